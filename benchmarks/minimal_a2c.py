"""A minimal hand-written A2C loop: the floor of framework overhead in benchmark B1.

It is what a competent engineer writes in one file without a framework: gymnasium's
``SyncVectorEnv``, two 64x64 tanh MLPs, preallocated rollout tensors, one torch thread, Adam and
gradient clipping. It has no statistics, checkpoints, evaluation, dict observations or plugins,
so the throughput of a framework divided by this loop's is the share of the CPU time the
framework spends on the learning itself.

It is also a correct A2C: terminated episodes do not bootstrap, truncated ones (the time limit)
bootstrap from the value of their final observation, as Stable-Baselines3 does.

    .venv/bin/python -m benchmarks.minimal_a2c [--steps 20000]
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np
import torch
from torch import nn


def _mlp(in_features: int, out_features: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, out_features),
    )


class MinimalA2C:
    """A2C on ``env_id`` (a Discrete-action gymnasium env with a flat Box observation)."""

    def __init__(
        self,
        env_id: str = "CartPole-v1",
        n_envs: int = 8,
        n_steps: int = 5,
        lr: float = 7e-4,
        gamma: float = 0.99,
        value_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        hidden: int = 64,
        seed: int = 0,
    ):
        torch.manual_seed(seed)
        self.envs = gymnasium.vector.SyncVectorEnv(
            [lambda: gymnasium.make(env_id)] * n_envs,
            autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP,
        )
        n_obs = int(np.prod(self.envs.single_observation_space.shape))
        n_actions = int(self.envs.single_action_space.n)
        self.actor = _mlp(n_obs, n_actions, hidden)
        self.critic = _mlp(n_obs, 1, hidden)
        self.parameters = [*self.actor.parameters(), *self.critic.parameters()]
        self.optimizer = torch.optim.Adam(self.parameters, lr=lr)
        self.n_envs, self.n_steps = n_envs, n_steps
        self.gamma, self.value_coef, self.max_grad_norm = gamma, value_coef, max_grad_norm
        self.observations = torch.zeros(n_steps, n_envs, n_obs)
        self.actions = torch.zeros(n_steps, n_envs, dtype=torch.long)
        self.rewards = torch.zeros(n_steps, n_envs)
        self.dones = torch.zeros(n_steps, n_envs)
        self.observation, _ = self.envs.reset(seed=seed)
        self.steps = 0

    def collect(self) -> torch.Tensor:
        """One rollout into the preallocated tensors; returns the value after it."""
        with torch.no_grad():
            for t in range(self.n_steps):
                observation = torch.from_numpy(self.observation).float()
                self.observations[t] = observation
                probs = torch.softmax(self.actor(observation), dim=-1)
                action = torch.multinomial(probs, 1).squeeze(-1)
                self.actions[t] = action
                self.observation, reward, terminated, truncated, info = self.envs.step(action.numpy())
                reward = torch.from_numpy(np.asarray(reward, dtype=np.float32))
                if truncated.any():  # bootstrap time limits from the final observation's value
                    for i in np.flatnonzero(truncated & ~terminated):
                        final = torch.as_tensor(info["final_obs"][i], dtype=torch.float32)
                        reward[i] += self.gamma * self.critic(final).squeeze(-1)
                self.rewards[t] = reward
                self.dones[t] = torch.from_numpy(terminated | truncated)
            self.steps += self.n_steps * self.n_envs
            return self.critic(torch.from_numpy(self.observation).float()).squeeze(-1)

    def update(self, next_value: torch.Tensor) -> None:
        """One gradient step on the rollout just collected."""
        values = self.critic(self.observations).squeeze(-1)
        log_probs = torch.log_softmax(self.actor(self.observations), dim=-1)
        log_probs = log_probs.gather(-1, self.actions.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            returns = torch.empty_like(self.rewards)
            running = next_value
            for t in range(self.n_steps - 1, -1, -1):
                running = self.rewards[t] + self.gamma * running * (1.0 - self.dones[t])
                returns[t] = running
            advantages = returns - values
        policy_loss = -(advantages * log_probs).mean()
        value_loss = (returns - values).pow(2).mean()
        self.optimizer.zero_grad()
        (policy_loss + self.value_coef * value_loss).backward()
        nn.utils.clip_grad_norm_(self.parameters, self.max_grad_norm)
        self.optimizer.step()

    def learn(self, total_steps: int) -> None:
        """Train for (at least) ``total_steps`` more env steps."""
        target = self.steps + total_steps
        while self.steps < target:
            self.update(self.collect())

    def close(self) -> None:
        self.envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Throughput of the minimal A2C loop on CartPole-v1.")
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent = MinimalA2C()
    agent.learn(2000)  # warm-up
    start = time.perf_counter()
    agent.learn(args.steps)
    print(f"minimal A2C: {args.steps / (time.perf_counter() - start):.0f} env steps/s")
    agent.close()


if __name__ == "__main__":
    main()

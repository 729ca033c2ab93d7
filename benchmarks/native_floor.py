"""The floor of B8's native path: the least an A2C loop over gymnasium's native CartPole must do.

Gymnasium's numpy-vectorized ``CartPoleVectorEnv`` (next-step autoreset), the two 64x64 tanh MLPs of
B1, 5-step rollouts, one torch thread, fused Adam and gradient clipping, written in one function
with no statistics, no entropy, 1-step returns instead of GAE and no checks. It is not a framework
anyone should train with; it bounds what the native path can reach on this machine, so that the
profile in docs/benchmarks.md can say how far from it we are.

    .venv/bin/python -m benchmarks.native_floor [--n-envs 256] [--updates 500]

B8 runs it beside ours in the same session (:func:`steady_state`, its "hand-written native floor"
column).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium
import numpy as np
import torch
from torch import nn

from benchmarks.common import Stopwatch, torch_threads


def _mlp(out_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, out_features)
    )


def _loop(n_envs: int, n_steps: int, seed: int) -> tuple[Callable[[], None], dict[str, float], Callable]:
    """``(update, parts, close)``: one call of ``update`` collects a rollout and takes a gradient
    step, adding its CPU seconds to ``parts["rollout"]`` and ``parts["update"]``."""
    torch.manual_seed(seed)
    env = gymnasium.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="vector_entry_point")
    actor, critic = _mlp(2), _mlp(1)
    parameters = [*actor.parameters(), *critic.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=7e-4, fused=True)
    observations = np.zeros((n_steps, n_envs, 4), np.float32)
    actions = np.zeros((n_steps, n_envs), np.int64)
    rewards = np.zeros((n_steps, n_envs), np.float32)
    terminated = np.zeros((n_steps, n_envs), bool)
    valid = np.ones((n_steps, n_envs), bool)
    state = {"observation": env.reset(seed=seed)[0], "done": np.zeros(n_envs, bool)}
    parts = {"rollout": 0.0, "update": 0.0}

    def update() -> None:
        start = time.thread_time()
        with torch.inference_mode():
            for t in range(n_steps):
                observations[t] = state["observation"]
                logits = actor(torch.from_numpy(observations[t]))
                gumbel = torch.rand_like(logits).log_().neg_().log_()
                actions[t] = (logits - gumbel).argmax(-1).numpy()
                state["observation"], rewards[t], terminated[t], truncated, _ = env.step(actions[t])
                valid[t] = ~state["done"]  # the step after an episode end only resets the env
                state["done"] = terminated[t] | truncated
            last_value = critic(torch.from_numpy(state["observation"].astype(np.float32))).squeeze(-1)
        middle = time.thread_time()
        flat = torch.from_numpy(observations).reshape(-1, 4)
        log_probs = torch.log_softmax(actor(flat), -1).gather(-1, torch.from_numpy(actions).reshape(-1, 1))
        values = critic(flat).view(n_steps, n_envs)
        with torch.no_grad():
            next_values = torch.cat([values[1:], last_value[None]]).masked_fill_(
                torch.from_numpy(terminated), 0
            )
            returns = torch.from_numpy(rewards) + 0.99 * next_values
            advantages = returns - values
        mask = torch.from_numpy(valid)
        loss = -(advantages[mask] * log_probs.view(n_steps, n_envs)[mask]).mean()
        loss = loss + 0.5 * (returns[mask] - values[mask]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 0.5)
        optimizer.step()
        parts["rollout"] += middle - start
        parts["update"] += time.thread_time() - middle

    return update, parts, env.close


def measure(n_envs: int = 256, updates: int = 500, n_steps: int = 5, seed: int = 0) -> dict[str, float]:
    """CPU milliseconds per update (rollout and gradient step), best of 3 runs after a warm-up."""
    torch.set_num_threads(1)
    update, parts, close = _loop(n_envs, n_steps, seed)
    for _ in range(100):
        update()
    best = None
    for _ in range(3):
        parts.update(rollout=0.0, update=0.0)
        for _ in range(updates):
            update()
        run = {name: seconds / updates * 1e3 for name, seconds in parts.items()}
        run["total"] = run["rollout"] + run["update"]
        if best is None or run["total"] < best["total"]:
            best = run
    close()
    best["env_steps_per_cpu_second"] = n_envs * n_steps / best["total"] * 1e3
    return best


def steady_state(n_envs: int, steps: int, seed: int = 0, n_steps: int = 5) -> Stopwatch:
    """B8's contender: ``steps`` env steps (whole updates) timed after 100 untimed updates."""
    with torch_threads(1):
        update, _, close = _loop(n_envs, n_steps, seed)
        for _ in range(100):
            update()
        updates = max(1, steps // (n_envs * n_steps))
        with Stopwatch(updates * n_envs * n_steps) as watch:
            for _ in range(updates):
                update()
        close()
    return watch


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-envs", type=int, default=256)
    parser.add_argument("--updates", type=int, default=500)
    args = parser.parse_args()
    result = measure(args.n_envs, args.updates)
    print(
        f"{args.n_envs} envs: {result['total']:.3f} ms of CPU per update (rollout {result['rollout']:.3f}, "
        f"update {result['update']:.3f}), {result['env_steps_per_cpu_second']:,.0f} env steps per CPU second"
    )

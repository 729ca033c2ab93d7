"""Action masking on an env where most actions are invalid: train PPO on it, masked and not.

``MaskedChoiceEnv`` has 100 discrete actions, of which 5, drawn at random each step, are valid.
Every action has a fixed value, one of five levels from 0.2 to 1.0 (the same in every instance); a
valid action earns its value, an invalid one earns nothing. The observation shows which actions
are valid (as features), and the env tells it the sb3-contrib way too, through
``action_masks()``; ``ActionMasksAsObservation`` turns that into the ``action_mask`` observation
Maze applies to the policy's logits.

    python examples/masked_choice.py          # masked PPO, 50k env steps, then evaluation
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

VALUES_SEED = 12345  # the actions' values: the same task in every instance


class MaskedChoiceEnv(gym.Env):
    """Choose the most valuable of the few valid actions, ``length`` times per episode.

    :param strict: raise on an invalid action (to prove that a masked policy never takes one).
    :param empty_final_mask: the last observation of an episode allows no action, as envs whose
        episode ended often report: a policy never acts on it, and a target must not bootstrap
        from it.
    """

    def __init__(
        self,
        n_actions: int = 100,
        n_valid: int = 5,
        length: int = 10,
        strict: bool = False,
        empty_final_mask: bool = False,
    ):
        self.n_actions, self.n_valid, self.length = n_actions, n_valid, length
        self.strict, self.empty_final_mask = strict, empty_final_mask
        # five value levels, 0.2 to 1.0: what to learn is which actions are better, not by how little
        self.values = (np.random.default_rng(VALUES_SEED).integers(1, 6, n_actions) / 5).astype(np.float32)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n_actions,), np.float32)
        self.action_space = gym.spaces.Discrete(n_actions)
        self._mask = np.zeros(n_actions, dtype=bool)
        self._t = 0

    def action_masks(self) -> np.ndarray:
        """Which actions are valid now (sb3-contrib's convention)."""
        return self._mask.copy()

    def best_reward(self) -> float:
        """What the best valid action earns now (for the optimal return)."""
        return float(self.values[self._mask].max())

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        self._draw()
        return self._mask.astype(np.float32), {}

    def step(self, action):
        action = int(action)
        valid = bool(self._mask[action])
        if self.strict and not valid:
            raise ValueError(
                f"invalid action {action} at step {self._t}; valid were {np.flatnonzero(self._mask)}"
            )
        reward = float(self.values[action]) if valid else 0.0
        self._t += 1
        terminated = self._t >= self.length
        if terminated and self.empty_final_mask:
            self._mask[:] = False
        else:
            self._draw()
        return self._mask.astype(np.float32), reward, terminated, False, {}

    def _draw(self) -> None:
        self._mask[:] = False
        self._mask[self.np_random.choice(self.n_actions, self.n_valid, replace=False)] = True


def masked_choice_env(**kwargs):
    """The env as Maze trains on it: the mask in the observation (``action_mask``)."""
    from maze_core.env import ActionMasksAsObservation

    return ActionMasksAsObservation(MaskedChoiceEnv(**kwargs))


def optimal_return(n_episodes: int = 200, seed: int = 0, **kwargs) -> float:
    """The mean return of the best valid action at every step (Monte Carlo over episodes)."""
    env = MaskedChoiceEnv(**kwargs)
    total = 0.0
    for episode in range(n_episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            total += env.best_reward()
            best = int(np.flatnonzero(env.action_masks())[env.values[env.action_masks()].argmax()])
            done = env.step(best)[2]
    return total / n_episodes


if __name__ == "__main__":
    from maze_core import RunContext

    rc = RunContext(env=lambda: masked_choice_env(strict=True), algorithm="ppo", runner="dev", seed=0)
    rc.train(n_epochs=10)  # 10 PPO epochs of 5,120 env steps: 51,200 env steps
    print(f"masked PPO: {rc.evaluate(n_episodes=50)['mean']:.2f}, optimal {optimal_return():.2f}")

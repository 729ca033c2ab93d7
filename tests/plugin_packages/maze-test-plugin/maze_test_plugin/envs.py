"""A one-dimensional corridor: walk right to reach the goal. Needs gymnasium and numpy, not torch."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class CorridorEnv(gym.Env):
    """Position 0..length-1; action 1 steps right, action 0 steps left; the last cell is the goal."""

    def __init__(self, length: int = 5):
        self.length = length
        self.observation_space = gym.spaces.Box(0.0, float(length - 1), shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self._observation(), {}

    def step(self, action):
        self.position = int(np.clip(self.position + (1 if action == 1 else -1), 0, self.length - 1))
        terminated = self.position == self.length - 1
        return self._observation(), 1.0 if terminated else -0.1, terminated, False, {}

    def _observation(self):
        return np.array([self.position], dtype=np.float32)


def make_corridor() -> CorridorEnv:
    return CorridorEnv()


class MaskedCorridorEnv(CorridorEnv):
    """The corridor with an action mask in the observation: at each end, only the move back inward
    is valid; anywhere else both are. Raises on an invalid action, so a run that ever takes one
    fails."""

    def __init__(self, length: int = 5):
        super().__init__(length)
        self.observation_space = gym.spaces.Dict(
            observation=self.observation_space, action_mask=gym.spaces.MultiBinary(2)
        )

    def reset(self, *, seed=None, options=None):
        observation, info = super().reset(seed=seed, options=options)
        return self._masked(observation), info

    def step(self, action):
        if not self._mask()[int(action)]:
            raise ValueError(f"invalid action {action} at position {self.position}")
        observation, *rest = super().step(action)
        return (self._masked(observation), *rest)

    def _mask(self):
        return np.array([self.position > 0, self.position < self.length - 1], dtype=np.int8)

    def _masked(self, observation):
        return {"observation": observation, "action_mask": self._mask()}


def make_masked_corridor() -> MaskedCorridorEnv:
    return MaskedCorridorEnv()

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

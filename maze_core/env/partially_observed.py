"""Partially observed versions of standard envs: what recurrent policies are for.

``CartPoleNoVel-v1`` (registered by Maze itself, as RL Zoo names it) is gymnasium's CartPole-v1
observing only the cart position and the pole angle: the two velocities are left out, so a policy
must infer them from the observations it has seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium
import numpy as np

from maze_core.errors import ConfigurationError


class KeepObservationEntries(gymnasium.ObservationWrapper):
    """Keeps only the entries ``indices`` of a flat ``Box`` observation (e.g. ``(0, 2)`` of
    CartPole: the positions without the velocities)."""

    def __init__(self, env: gymnasium.Env, indices: Sequence[int]):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            raise ConfigurationError(
                f"KeepObservationEntries needs a flat Box observation space, got {space}"
            )
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.size == 0 or self.indices.min() < 0 or self.indices.max() >= space.shape[0]:
            raise ConfigurationError(
                f"KeepObservationEntries indices={list(indices)} must be entries of the {space.shape[0]} "
                "observation entries"
            )
        self.observation_space = gymnasium.spaces.Box(
            space.low[self.indices], space.high[self.indices], dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.indices]


def cartpole_no_velocity() -> gymnasium.Env:
    """CartPole-v1 observing the cart position and the pole angle only (``CartPoleNoVel-v1``)."""
    return KeepObservationEntries(gymnasium.make("CartPole-v1"), indices=(0, 2))

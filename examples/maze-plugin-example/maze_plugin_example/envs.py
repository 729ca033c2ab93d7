"""``CorridorEnv``: an env written directly against ``MazeEnv``, with no gymnasium env behind it."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from maze_core.env import MazeEnv
from maze_core.errors import ConfigurationError


class CorridorEnv(MazeEnv):
    """Walk to the goal end of a corridor.

    The agent starts in the middle cell; the goal is at the left or the right end, drawn per
    episode and shown in the observation. Reaching the goal ends the episode with +1, reaching the
    other end with -1, and every other step costs ``step_cost``; an episode is truncated after
    ``max_steps`` steps. Walking straight to the goal returns ``1 - (length // 2 - 1) * step_cost``
    (0.9 with the defaults); a random policy returns about -0.4.

    Observation ``{"position": [0, 1], "goal": -1 (left) or +1 (right)}``, action
    ``{"move": 0 (left) or 1 (right)}``. Records the metric ``reached_goal`` (0 or 1) per episode.
    """

    def __init__(self, length: int = 7, step_cost: float = 0.05, max_steps: int = 20):
        if length < 3 or length % 2 == 0:
            raise ConfigurationError(f"length={length!r}: the corridor needs an odd length >= 3")
        self.length = length
        self.step_cost = step_cost
        self.max_steps = max_steps
        self._observation_space = spaces.Dict(
            position=spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
            goal=spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32),
        )
        self._action_space = spaces.Dict(move=spaces.Discrete(2))
        self._position = length // 2
        self._goal = 1
        self._steps = 0

    @property
    def observation_spaces_dict(self):
        return {0: self._observation_space}

    @property
    def action_spaces_dict(self):
        return {0: self._action_space}

    def reset(self, seed=None, options=None):
        # MazeEnv has re-seeded self.np_random from `seed` before this runs: draw everything from it
        self._position = self.length // 2
        self._goal = 1 if self.np_random.random() < 0.5 else -1
        self._steps = 0
        return self._observation(), {}

    def step(self, action):
        self._position += 1 if int(action["move"]) == 1 else -1
        self._steps += 1
        at_end = self._position in (0, self.length - 1)
        if at_end:
            reached_goal = (self._position == self.length - 1) == (self._goal == 1)
            self.record_metric("reached_goal", float(reached_goal))
            reward = 1.0 if reached_goal else -1.0
        else:
            reward = -self.step_cost
        truncated = not at_end and self._steps >= self.max_steps
        if truncated:
            self.record_metric("reached_goal", 0.0)
        return self._observation(), reward, at_end, truncated, {}

    def _observation(self) -> dict[str, np.ndarray]:
        return {
            "position": np.array([self._position / (self.length - 1)], dtype=np.float32),
            "goal": np.array([self._goal], dtype=np.float32),
        }

"""MazeToGymEnv: a single-actor Maze env as a gymnasium env (for gymnasium tools and libraries)."""

from __future__ import annotations

import gymnasium

from maze_core.env.structured_env import StructuredEnv, is_single_actor
from maze_core.errors import ConfigurationError


class MazeToGymEnv(gymnasium.Env):
    """Expose a Maze env with one step key and one agent as a :class:`gymnasium.Env`.

    Dict spaces whose only key is ``observation`` (or ``action``) are unwrapped, undoing what
    :class:`~maze_core.env.gym_env.GymMazeEnv` did; any other Dict space stays a Dict. Structured
    envs (several step keys or agents) have no gymnasium equivalent and are refused.
    """

    def __init__(self, env: StructuredEnv):
        if not isinstance(env, StructuredEnv):
            raise ConfigurationError(f"MazeToGymEnv needs a Maze env, got {type(env).__name__}.")
        if not is_single_actor(env.agent_counts_dict):
            raise ConfigurationError(
                f"MazeToGymEnv only supports envs with one step key and one agent; this env has agent "
                f"counts {env.agent_counts_dict}. A gymnasium env has a single observation and action "
                "space per step, so multi-step and multi-agent envs cannot be expressed as one."
            )
        self.env = env
        (step_key,) = env.action_spaces_dict
        observation_space = env.observation_spaces_dict[step_key]
        action_space = env.action_spaces_dict[step_key]
        self._observation_key = _only_key(observation_space, "observation")
        self._action_key = _only_key(action_space, "action")
        self.observation_space = (
            observation_space if self._observation_key is None else observation_space["observation"]
        )
        self.action_space = action_space if self._action_key is None else action_space["action"]
        self.metadata = getattr(env, "metadata", None) or {"render_modes": []}
        self.render_mode = getattr(env, "render_mode", None)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        observation, info = self.env.reset(seed=seed, options=options)
        return self._observation(observation), info

    def step(self, action):
        if self._action_key is not None:
            action = {self._action_key: action}
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._observation(observation), float(reward), bool(terminated), bool(truncated), info

    def render(self):
        render = getattr(self.env, "render", None)
        return None if render is None else render()

    def close(self) -> None:
        self.env.close()

    def _observation(self, observation):
        return observation if self._observation_key is None else observation[self._observation_key]


def _only_key(space: gymnasium.spaces.Dict, key: str) -> str | None:
    """``key`` if it is the space's only key (then the Dict is unwrapped), else None."""
    return key if list(space.spaces) == [key] else None

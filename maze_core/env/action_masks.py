"""Action masks of gymnasium envs that expose them through a method, as sb3-contrib's MaskablePPO
expects (``env.action_masks()``): :class:`ActionMasksAsObservation` puts them where Maze looks for
them, in the observation (docs/models.md, "Action masking")."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from maze_core.env.spaces import MASK_SUFFIX, MASKABLE_SPACES
from maze_core.errors import ConfigurationError


class ActionMasksAsObservation(gym.Wrapper):
    """Adds ``env.action_masks()`` to each observation as ``action_mask`` (the mask key of the
    single action head ``action`` a gymnasium env gets in Maze).

    A non-Dict observation becomes ``{"observation": obs, "action_mask": mask}``; a Dict one gains
    the key. The mask is read after every ``reset`` and ``step``, so it describes the actions valid
    in the state the observation shows. Use it in an env factory::

        RunContext(env=lambda: ActionMasksAsObservation(MyGymEnv()), algorithm="ppo")
    """

    mask_key = "action" + MASK_SUFFIX

    def __init__(self, env: gym.Env):
        super().__init__(env)
        try:
            self._action_masks = env.get_wrapper_attr("action_masks")
        except AttributeError:
            self._action_masks = None
        if not callable(self._action_masks):
            raise ConfigurationError(
                f"ActionMasksAsObservation wraps envs with an action_masks() method; "
                f"{type(env.unwrapped).__name__} has none"
            )
        if not isinstance(env.action_space, MASKABLE_SPACES):
            raise ConfigurationError(
                f"action masks apply to Discrete, MultiDiscrete and MultiBinary action spaces; "
                f"{type(env.unwrapped).__name__} has {env.action_space}"
            )
        space = env.action_space
        if isinstance(space, gym.spaces.Discrete):
            length = int(space.n)
        else:  # one entry per category of each component, concatenated; one per bit
            length = int(
                np.sum(space.nvec) if isinstance(space, gym.spaces.MultiDiscrete) else np.prod(space.shape)
            )
        mask_space = gym.spaces.MultiBinary(length)
        inner = env.observation_space
        if isinstance(inner, gym.spaces.Dict):
            if self.mask_key in inner.spaces:
                raise ConfigurationError(f"the env's observations already have the key {self.mask_key!r}")
            self.observation_space = gym.spaces.Dict({**inner.spaces, self.mask_key: mask_space})
        else:
            self.observation_space = gym.spaces.Dict({"observation": inner, self.mask_key: mask_space})
        self._length = length

    def reset(self, **kwargs) -> tuple[dict[str, Any], dict]:
        observation, info = self.env.reset(**kwargs)
        return self._with_mask(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._with_mask(observation), reward, terminated, truncated, info

    def _with_mask(self, observation) -> dict[str, Any]:
        mask = np.asarray(self._action_masks())
        if mask.size != self._length:
            raise ValueError(
                f"{type(self.env.unwrapped).__name__}.action_masks() returned {mask.size} entries; the "
                f"action space {self.env.action_space} needs {self._length}"
            )
        mask = mask.reshape(self._length).astype(np.int8)
        if isinstance(observation, dict):
            return {**observation, self.mask_key: mask}
        return {"observation": observation, self.mask_key: mask}

"""Small helpers to build Maze's Dict spaces and dict observations/actions.

Maze envs speak in flat dicts of numpy arrays, described by :class:`gymnasium.spaces.Dict` spaces
whose entries are ``Box``, ``Discrete``, ``MultiDiscrete`` or ``MultiBinary`` (the spaces the
distributions and perception blocks understand). Observations are float32 for the networks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from maze_core.errors import ConfigurationError

SUPPORTED_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
#: the observation ``<head>_mask`` is the action mask of action head ``<head>`` (docs/models.md)
MASK_SUFFIX = "_mask"
MASKABLE_SPACES = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def mask_length(space: spaces.Space) -> int:
    """How many entries the action mask of a head with action space ``space`` has: one per
    category (Discrete), the components' categories concatenated (MultiDiscrete), one per bit
    (MultiBinary)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    return int(np.prod(space.shape))


def dict_space(space: spaces.Space, key: str) -> spaces.Dict:
    """``space`` itself if it is a Dict space, else ``Dict({key: space})``."""
    if isinstance(space, spaces.Dict):
        return space
    return spaces.Dict({key: space})


def check_dict_space(space: spaces.Space, what: str) -> spaces.Dict:
    """Raise a clear error unless ``space`` is a flat Dict of supported spaces; return it."""
    if not isinstance(space, spaces.Dict):
        raise ConfigurationError(f"{what} must be a gymnasium.spaces.Dict, got {space!r}.")
    for key, sub_space in space.spaces.items():
        if not isinstance(sub_space, SUPPORTED_SPACES):
            names = ", ".join(cls.__name__ for cls in SUPPORTED_SPACES)
            raise ConfigurationError(
                f"{what}: entry {key!r} is a {type(sub_space).__name__} space; Maze supports flat Dict "
                f"spaces of {names}. Flatten it first (e.g. with gymnasium.wrappers.FlattenObservation "
                "or by splitting it into several Dict entries)."
            )
    return space


def float32_space(space: spaces.Space) -> spaces.Space:
    """The float32 Box describing ``space``'s values cast to float32 (same shape and bounds).

    Discrete, MultiDiscrete and MultiBinary become Boxes over the same integer range, so that the
    space still contains the (float32) observations. Other spaces are returned unchanged.
    """
    if isinstance(space, spaces.Box):
        if space.dtype == np.float32:
            return space
        low, high = space.low, space.high
    elif isinstance(space, spaces.Discrete):
        low, high = np.asarray(space.start), np.asarray(space.start + space.n - 1)
    elif isinstance(space, spaces.MultiDiscrete):
        low, high = space.start, space.start + space.nvec - 1
    elif isinstance(space, spaces.MultiBinary):
        low, high = np.zeros(space.shape), np.ones(space.shape)
    else:
        return space
    return spaces.Box(low=low.astype(np.float32), high=high.astype(np.float32), dtype=np.float32)


def to_float32(observation: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Convert every value of an observation dict to a float32 numpy array (numbers included)."""
    return {key: np.asarray(value, dtype=np.float32) for key, value in observation.items()}

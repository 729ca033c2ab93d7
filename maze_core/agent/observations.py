"""Observation handling shared by policies and critics: spaces to shapes, numpy to tensors, and
bringing any batch layout (none, ``(batch,)``, ``(time, envs)``) to exactly one batch dim."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from maze_core.errors import ConfigurationError

Shape = tuple[int, ...]


def as_dict_spaces(spaces_dict: Mapping[Any, gym.Space], kind: str) -> dict[Any, gym.spaces.Dict]:
    """``{step_key: Dict space}``; a non-Dict space becomes ``Dict(observation=...)`` /
    ``Dict(action=...)`` like GymMazeEnv does."""
    if isinstance(spaces_dict, gym.Space) or not isinstance(spaces_dict, Mapping) or not spaces_dict:
        raise ConfigurationError(
            f"{kind}_spaces_dict must map each step key to a gymnasium Dict space, "
            f"e.g. env.{kind}_spaces_dict; got {spaces_dict!r}"
        )
    result = {}
    for step_key, space in spaces_dict.items():
        if isinstance(space, gym.spaces.Dict):
            result[step_key] = space
        elif isinstance(space, gym.Space):
            result[step_key] = gym.spaces.Dict({kind: space})
        else:
            raise ConfigurationError(f"{kind}_spaces_dict[{step_key!r}] is not a gymnasium space: {space!r}")
    return result


def observation_shapes(space: gym.spaces.Dict, step_key: Any = None) -> dict[str, Shape]:
    """Shape of one sample of every observation key; nested Dict/Tuple observations are rejected."""
    shapes = {}
    for key, sub_space in space.spaces.items():
        if isinstance(sub_space, gym.spaces.Dict | gym.spaces.Tuple) or sub_space.shape is None:
            raise ConfigurationError(
                f"observation {key!r} of step key {step_key!r} has a {type(sub_space).__name__} space; "
                f"networks take flat dicts of arrays, so make each part its own observation key"
            )
        shapes[key] = tuple(int(d) for d in sub_space.shape)
    return shapes


def to_tensor_dict(observation: Mapping[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """A new dict of tensors on ``device`` (the caller's dict and arrays are left untouched).

    numpy arrays are wrapped without a copy where possible; float64 becomes float32, the dtype of
    the networks' weights.
    """
    tensors = {}
    on_cpu = device.type == "cpu"
    for key, value in observation.items():
        if isinstance(value, torch.Tensor):
            tensor = value.to(device)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            if not value.flags.writeable:
                value = value.copy()  # torch warns about wrapping read-only memory
            tensor = torch.from_numpy(value) if on_cpu else torch.from_numpy(value).to(device)
        else:
            tensor = torch.as_tensor(np.asarray(value), device=device)
        if tensor.dtype == torch.float64:
            tensor = tensor.float()
        tensors[key] = tensor
    return tensors


def flatten_batch(
    observation: dict[str, torch.Tensor], feature_ranks: Mapping[str, int] | None
) -> tuple[dict[str, torch.Tensor], torch.Size | None]:
    """Bring the observation to exactly one batch dim.

    ``feature_ranks`` gives the number of feature dims per key (from the observation space).
    Returns the observation and the original batch shape, or None when it already had one batch
    dim (then nothing needs restoring); ``restore_batch`` undoes it on outputs.
    """
    if not feature_ranks:
        return observation, None
    for key, rank in feature_ranks.items():
        tensor = observation.get(key)
        if tensor is not None:
            batch_shape = tensor.shape[: tensor.dim() - rank]
            break
    else:
        return observation, None
    if len(batch_shape) == 1:
        return observation, None
    flat = {}
    for key, tensor in observation.items():
        rank = feature_ranks.get(key)
        flat[key] = tensor if rank is None else tensor.reshape(-1, *tensor.shape[tensor.dim() - rank :])
    return flat, batch_shape


def restore_batch(tensor: torch.Tensor, batch_shape: torch.Size | None) -> torch.Tensor:
    """Give an output (with one batch dim) the batch shape ``flatten_batch`` recorded."""
    if batch_shape is None:
        return tensor
    return tensor.reshape((*batch_shape, *tensor.shape[1:]))


def feature_ranks(observation_spaces_dict: Mapping[Any, gym.spaces.Dict] | None) -> dict[Any, dict[str, int]]:
    """``{step_key: {obs_key: number of feature dims}}``."""
    if not observation_spaces_dict:
        return {}
    return {
        step_key: {key: len(shape) for key, shape in observation_shapes(space, step_key).items()}
        for step_key, space in as_dict_spaces(observation_spaces_dict, "observation").items()
    }

"""Checking a network at construction: a forward pass on a sampled batch of observations, so that a
wrong network fails before training starts, with a message naming it and its step key."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from maze_core.agent.observations import Shape, to_tensor_dict
from maze_core.errors import ConfigurationError

#: batch size of the sampled observations networks are checked with
CHECK_BATCH_SIZE = 2


def sample_observation(
    space: gym.spaces.Dict,
    device: torch.device | str = "cpu",
    stack_counts: Mapping[str, int] | None = None,
    batch_size: int = CHECK_BATCH_SIZE,
) -> dict[str, torch.Tensor]:
    """A batch of random observations from ``space`` (a seeded copy of it, leaving the env's space's
    random state alone); keys in ``stack_counts`` get that many observations stacked after the batch dim."""
    space = copy.deepcopy(space)
    space.seed(0)
    stack_counts = stack_counts or {}
    observation = {
        key: np.stack([_draw(sub_space, stack_counts.get(key, 1)) for _ in range(batch_size)])
        for key, sub_space in space.spaces.items()
    }
    return to_tensor_dict(observation, torch.device(device))


def _draw(space: gym.Space, n: int):
    return np.stack([space.sample() for _ in range(n)]) if n > 1 else space.sample()


def check_network_outputs(
    network: nn.Module,
    observation: Mapping[str, torch.Tensor],
    expected: Mapping[str, Shape],
    what: str,
    hints: Mapping[str, str] | None = None,
) -> None:
    """Run ``network`` on a sampled batch and compare its outputs with ``expected`` (``{key: shape}``);
    ``hints`` say per key why that shape is expected.

    The network runs in eval mode without gradients, so the check leaves no trace (no batch-norm
    statistics, no autograd graph).
    """
    if any(value.is_meta for value in observation.values()):
        # a build on torch's meta device only measures the weights (run_setup.check_model_fits);
        # the real build checks, and a meta forward pass would import torch._dynamo (1.5 s)
        return
    batch = next(iter(observation.values())).shape[0] if observation else CHECK_BATCH_SIZE
    described = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in observation.items())
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            output = network(dict(observation))
    except Exception as error:
        raise ConfigurationError(
            f"{what} failed on a sampled batch of {batch} observations ({described}): "
            f"{type(error).__name__}: {error}"
        ) from error
    finally:
        network.train(was_training)
    if not isinstance(output, Mapping):
        raise ConfigurationError(
            f"{what} returned a {type(output).__name__}; it must return a dict with keys {list(expected)}"
        )
    missing = [key for key in expected if key not in output]
    extra = [key for key in output if key not in expected]
    if missing or extra:
        problems = "; ".join(
            part
            for part in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "")
            if part
        )
        raise ConfigurationError(
            f"{what} returned keys {list(output)} but must return exactly {list(expected)} ({problems})"
        )
    for key, shape in expected.items():
        value = output[key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != (batch, *shape):
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ConfigurationError(
                f"{what} returned {key!r} of shape {got} for a batch of {batch} observations ({described}); "
                f"expected {(batch, *shape)}, i.e. {shape} per observation{(hints or {}).get(key, '')}"
            )

"""Action masks: which actions of a discrete action head are valid in the current state.

The convention (docs/models.md, "Action masking"): an env declares the mask of action head ``h`` as
the observation key ``h_mask`` (for a gymnasium env's single head ``action``: ``action_mask``),
one entry per category — ``(n,)`` for ``Discrete(n)``, the components' entries concatenated,
``(sum(nvec),)``, for ``MultiDiscrete``, ``(n,)`` for ``MultiBinary(n)`` (a False entry forces that
bit to 0) — true (non-zero) where the action is valid.

The policy applies a mask to the logits (:func:`mask_logits`) before any distribution sees them,
so sampling, the mode, log-probs, entropy and KL are all those of the renormalised distribution,
for every algorithm, in training, evaluation and inference alike. Default networks do not take a
mask as an input feature (:func:`without_masks`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from maze_core.env.spaces import MASK_SUFFIX, MASKABLE_SPACES, mask_length
from maze_core.errors import ConfigurationError


class ActionMaskError(ValueError):
    """A mask that leaves some sample no valid action; ``sample`` is its index in the batch."""

    def __init__(self, message: str, head: str, sample: int):
        super().__init__(message)
        self.head, self.sample = head, sample


def mask_key(head: str) -> str:
    """The observation key that holds the mask of action head ``head``."""
    return head + MASK_SUFFIX


def masked_heads(observation_space: gym.spaces.Dict, action_space: gym.spaces.Dict) -> dict[str, str]:
    """``{action head: mask key}`` for the heads whose mask the observation space holds, checked:
    a mask for a head that cannot be masked (a Box) or of the wrong size is a ConfigurationError."""
    heads = {}
    for head, space in action_space.spaces.items():
        key = mask_key(head)
        if key not in observation_space.spaces:
            continue
        if not isinstance(space, MASKABLE_SPACES):
            raise ConfigurationError(
                f"observation {key!r} is the action mask of head {head!r}, but that head is a "
                f"{type(space).__name__}: masks apply to Discrete, MultiDiscrete and MultiBinary heads; "
                f"rename the observation if it is not a mask"
            )
        shape, length = observation_space[key].shape, mask_length(space)
        if shape is None or int(np.prod(shape)) != length or len(shape) != 1:
            raise ConfigurationError(
                f"action mask {key!r} has shape {shape}, but head {head!r} ({space}) needs a mask of "
                f"shape ({length},): one entry per category, true where the action is valid"
            )
        heads[head] = key
    return heads


def maskable_heads(action_space: gym.spaces.Dict) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{head: (mask key, checked segments)}`` for every head of ``action_space`` that a mask can
    apply to (see :func:`checked_segments`)."""
    return {
        head: (mask_key(head), checked_segments(space))
        for head, space in action_space.spaces.items()
        if isinstance(space, MASKABLE_SPACES)
    }


def without_masks(observation_space: gym.spaces.Dict, action_space: gym.spaces.Dict) -> gym.spaces.Dict:
    """The observation space without the action masks of ``action_space``'s heads: what default
    networks take as input."""
    masks = set(masked_heads(observation_space, action_space).values())
    if not masks:
        return observation_space
    return gym.spaces.Dict({k: v for k, v in observation_space.spaces.items() if k not in masks})


def checked_segments(space: gym.Space) -> tuple[int, ...]:
    """The sizes of the mask's parts of which each must allow some action: the whole mask of a
    Discrete head, each component of a MultiDiscrete one, none for MultiBinary (all bits 0 is an
    action)."""
    if isinstance(space, gym.spaces.Discrete):
        return (int(space.n),)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return tuple(int(n) for n in np.asarray(space.nvec).flat)
    return ()


def valid_actions(mask: Any, head: str, segments: tuple[int, ...], device=None) -> torch.Tensor:
    """``mask`` (any array-like, any batch shape) as a bool tensor, true where the action is valid,
    checked: a sample whose mask allows no action in one of ``segments`` (see
    :func:`checked_segments`) is an :class:`ActionMaskError`."""
    mask = torch.as_tensor(mask, device=device)
    valid = mask if mask.dtype == torch.bool else mask != 0
    if segments:
        parts = valid.split(segments, dim=-1) if len(segments) > 1 else (valid,)
        no_action = torch.stack([~part.any(dim=-1) for part in parts]).any(dim=0)
        if no_action.any():
            sample = int(no_action.reshape(-1).nonzero()[0, 0])
            raise ActionMaskError(
                f"action mask {mask_key(head)!r} allows no action for sample {sample} "
                f"({int(valid.reshape(-1, valid.shape[-1])[sample].sum())} of {valid.shape[-1]} entries "
                f"true{', counted over all components' if len(segments) > 1 else ''}): an env must leave "
                f"at least one valid action",
                head,
                sample,
            )
    return valid


def mask_logits(logits: torch.Tensor, mask: Any, head: str, segments: tuple[int, ...]) -> torch.Tensor:
    """``logits`` with the invalid entries (``mask`` false; checked by :func:`valid_actions`) set to
    the lowest finite value, which every softmax turns into probability 0 with no NaN in entropy
    or gradients."""
    valid = valid_actions(mask, head, segments, logits.device)
    return logits.masked_fill(~valid, torch.finfo(logits.dtype).min)


def masked_argmax(values: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """The index of the highest value along the last dim among the valid entries (all if None)."""
    if valid is None:
        return values.argmax(dim=-1)
    return values.masked_fill(~valid, float("-inf")).argmax(dim=-1)


class ResetStepMasks:
    """On a next-step autoreset vector env, the step after an episode's end only resets the env,
    yet the policy acts once more on the final observation (the action is ignored), whose mask may
    allow no action: :meth:`lift` sets those rows' masks to all-valid. Cheap when the env has no
    masks or resets nothing."""

    def __init__(self, env):
        step_key = env.actor_id()[0]
        spaces = env.observation_spaces_dict[step_key], env.action_spaces_dict[step_key]
        self.keys = tuple(masked_heads(*spaces).values())
        self.ended = np.zeros(env.n_envs, dtype=bool)  # the envs whose next step only resets

    def lift(self, observation) -> None:
        """Make every action valid in the rows of envs whose next step only resets (in place)."""
        if self.keys and self.ended.any():
            for key in self.keys:
                observation[key][self.ended] = 1

    def record(self, terminated, truncated) -> None:
        """Note which envs' episodes just ended."""
        if self.keys:
            np.logical_or(terminated, truncated, out=self.ended)

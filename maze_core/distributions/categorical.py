"""Categorical distributions over Discrete and MultiDiscrete action spaces.

Sampling uses the Gumbel-max trick (``argmax(logits + Gumbel noise)``): unlike
``torch.distributions.Categorical(...).sample()`` it needs no softmax, no validation and no
``multinomial`` call, which matters on the per-step rollout path.
"""

from __future__ import annotations

import functools
from functools import cached_property

import gymnasium as gym
import numpy as np
import torch

from maze_core.distributions.base import ProbabilityDistribution


class CategoricalProbabilityDistribution(ProbabilityDistribution):
    """Categorical distribution for a ``Discrete`` space; logits ``(n,)``, actions ``start + index``.

    The temperature divides the logits (below 1: greedier, above 1: more uniform).
    """

    space_types = (gym.spaces.Discrete,)

    def __init__(self, logits: torch.Tensor, action_space: gym.Space, temperature: float = 1.0):
        super().__init__(logits, action_space, temperature)
        self.logits = logits if temperature == 1.0 else logits / temperature
        self._offset = int(action_space.start)

    @classmethod
    def required_logits_shape(cls, action_space: gym.spaces.Discrete) -> tuple[int, ...]:
        return (int(action_space.n),)

    @cached_property
    def log_probs(self) -> torch.Tensor:
        """Normalised log-probabilities of every category (logits' shape)."""
        return torch.log_softmax(self.logits, dim=-1)

    @property
    def probs(self) -> torch.Tensor:
        return self.log_probs.exp()

    # How category indices map to actions and per-category values to one value per sample; the
    # multi-categorical subclass overrides these three and inherits all the math.
    def _to_action(self, index: torch.Tensor) -> torch.Tensor:
        return index + self._offset if self._offset else index

    def _to_index(self, actions: torch.Tensor) -> torch.Tensor:
        actions = actions.long()
        return actions - self._offset if self._offset else actions

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        return values

    def sample(self) -> torch.Tensor:
        logits = self.logits.detach()
        neg_gumbel_noise = torch.rand_like(logits).log_().neg_().log_()  # log(-log(u)) = -Gumbel
        return self._to_action((logits - neg_gumbel_noise).argmax(dim=-1))

    def deterministic_sample(self) -> torch.Tensor:
        return self._to_action(self.logits.detach().argmax(dim=-1))

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        index = self._to_index(actions).unsqueeze(-1)
        return self._reduce(self.log_probs.gather(-1, index).squeeze(-1))

    def entropy(self) -> torch.Tensor:
        log_p = _finite(self.log_probs)
        return self._reduce(-(log_p.exp() * log_p).sum(-1))

    def kl(self, other: CategoricalProbabilityDistribution) -> torch.Tensor:
        log_p, log_q = _finite(self.log_probs), _finite(other.log_probs)
        return self._reduce((log_p.exp() * (log_p - log_q)).sum(-1))


def _finite(log_p: torch.Tensor) -> torch.Tensor:
    """Log-probs with -inf (impossible categories) clamped, so that ``0 * log 0`` is 0, not NaN."""
    return log_p.clamp(min=torch.finfo(log_p.dtype).min)


class MultiCategoricalProbabilityDistribution(CategoricalProbabilityDistribution):
    """Independent categoricals, one per component of a ``MultiDiscrete`` space.

    Logits are the components' logits concatenated: ``(sum(nvec),)``. Internally they are laid out
    as ``(..., components, max(nvec))``, padded with -inf, so all components share one vectorised
    categorical computation; ``log_prob``, ``entropy`` and ``kl`` sum over the components.
    """

    space_types = (gym.spaces.MultiDiscrete,)

    def __init__(self, logits: torch.Tensor, action_space: gym.Space, temperature: float = 1.0):
        ProbabilityDistribution.__init__(self, logits, action_space, temperature)
        if temperature != 1.0:
            logits = logits / temperature
        nvec, start = action_space.nvec, action_space.start
        layout = _multi_layout(tuple(nvec.flat), nvec.shape, tuple(start.flat), logits.device)
        self._event_shape, self._offset = layout.event_shape, layout.offset
        batch_shape = logits.shape[:-1]
        if layout.index is None:  # all components have the same number of categories
            self.logits = logits.reshape((*batch_shape, *layout.grid_shape))
        else:
            padding = logits.new_full((*batch_shape, 1), float("-inf"))
            self.logits = torch.cat([logits, padding], dim=-1)[..., layout.index]

    @classmethod
    def required_logits_shape(cls, action_space: gym.spaces.MultiDiscrete) -> tuple[int, ...]:
        return (int(action_space.nvec.sum()),)

    def _to_action(self, index: torch.Tensor) -> torch.Tensor:
        if self._offset is not None:
            index = index + self._offset
        return index.reshape((*index.shape[:-1], *self._event_shape))

    def _to_index(self, actions: torch.Tensor) -> torch.Tensor:
        n_event_dims = len(self._event_shape)
        actions = actions.long().reshape((*actions.shape[: actions.dim() - n_event_dims], -1))
        return actions - self._offset if self._offset is not None else actions

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        return values.sum(-1)


class _MultiLayout:
    """How a MultiDiscrete space's concatenated logits map onto a padded (components, max n) grid."""

    def __init__(self, nvec: tuple[int, ...], event_shape: tuple[int, ...], start: tuple[int, ...], device):
        n_max = max(nvec)
        self.event_shape = event_shape
        self.grid_shape = (len(nvec), n_max)
        self.offset = torch.tensor(start, device=device) if any(start) else None
        if all(n == n_max for n in nvec):
            self.index = None
            return
        pad = sum(nvec)  # position of the -inf column appended to the logits
        index = np.full(self.grid_shape, pad, dtype=np.int64)
        begin = 0
        for row, n in enumerate(nvec):
            index[row, :n] = np.arange(begin, begin + n)
            begin += n
        self.index = torch.as_tensor(index, device=device)


@functools.lru_cache(maxsize=64)
def _multi_layout(nvec, event_shape, start, device) -> _MultiLayout:
    return _MultiLayout(tuple(int(n) for n in nvec), tuple(event_shape), tuple(int(s) for s in start), device)

"""Gaussian distributions over Box action spaces.

The squashed variant is the diagonal Gaussian pushed through an invertible map into the Box; both
share all the Gaussian math and differ only in that map (:meth:`_to_action`, :meth:`_to_latent`
and its log-Jacobian).
"""

from __future__ import annotations

import math
from functools import cached_property

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from maze_core.distributions.base import ProbabilityDistribution, sum_dims
from maze_core.errors import ConfigurationError

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class DiagonalGaussianProbabilityDistribution(ProbabilityDistribution):
    """Independent Gaussians, one per action dimension of a ``Box`` space.

    The logits are the means and log standard deviations concatenated along the last dim:
    ``(*shape[:-1], 2 * shape[-1])`` for a Box of ``shape`` (``(2,)`` for a scalar Box). The
    temperature scales the standard deviation. Samples are not clipped to the Box bounds.
    """

    space_types = (gym.spaces.Box,)
    #: clamp the log standard deviation into this range (None: no clamping)
    log_std_bounds: tuple[float, float] | None = None

    def __init__(self, logits: torch.Tensor, action_space: gym.Space, temperature: float = 1.0):
        super().__init__(logits, action_space, temperature)
        event_shape = action_space.shape
        mean, log_std = logits.chunk(2, dim=-1)
        if not event_shape:
            mean, log_std = mean.squeeze(-1), log_std.squeeze(-1)
        if self.log_std_bounds is not None:
            log_std = log_std.clamp(*self.log_std_bounds)
        if temperature != 1.0:
            log_std = log_std + math.log(temperature)
        self.mean, self.log_std = mean, log_std
        self._dims = sum_dims(len(event_shape))

    @classmethod
    def required_logits_shape(cls, action_space: gym.spaces.Box) -> tuple[int, ...]:
        shape = tuple(action_space.shape)
        return (*shape[:-1], 2 * shape[-1]) if shape else (2,)

    @classmethod
    def check_action_space(cls, action_space: gym.Space) -> None:
        super().check_action_space(action_space)
        if not np.issubdtype(action_space.dtype, np.floating):
            raise ConfigurationError(
                f"{cls.__name__} needs a Box of floats, this one has dtype {action_space.dtype}"
            )

    @cached_property
    def std(self) -> torch.Tensor:
        return self.log_std.exp()

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        return values.sum(self._dims) if self._dims else values

    # The map from the Gaussian variable x to the action: the identity here.
    def _to_action(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _to_latent(self, actions: torch.Tensor) -> torch.Tensor:
        return actions

    def _log_abs_det_jacobian(self, x: torch.Tensor) -> torch.Tensor | float:
        """log |d action / d x| per action dimension."""
        return 0.0

    def rsample(self) -> torch.Tensor:
        """A reparameterised sample: differentiable with respect to the logits."""
        return self._to_action(self.mean + self.std * torch.randn_like(self.mean))

    def sample(self) -> torch.Tensor:
        return self.rsample().detach()

    def deterministic_sample(self) -> torch.Tensor:
        return self._to_action(self.mean.detach())

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.log_prob_of_latent(self._to_latent(actions.to(self.mean.dtype)))

    def log_prob_of_latent(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.mean.dtype)
        log_density = -0.5 * ((x - self.mean) / self.std) ** 2 - self.log_std - _HALF_LOG_2PI
        return self._reduce(log_density - self._log_abs_det_jacobian(x))

    def entropy(self) -> torch.Tensor:
        return self._reduce(0.5 + _HALF_LOG_2PI + self.log_std)

    def kl(self, other: DiagonalGaussianProbabilityDistribution) -> torch.Tensor:
        # KL is invariant under the (shared) map into the action space, so this also serves the
        # squashed variant exactly.
        var_ratio = (self.std / other.std) ** 2
        mean_term = ((self.mean - other.mean) / other.std) ** 2
        return self._reduce(0.5 * (var_ratio + mean_term - 1.0) + other.log_std - self.log_std)


class SquashedGaussianProbabilityDistribution(DiagonalGaussianProbabilityDistribution):
    """A diagonal Gaussian squashed by ``tanh`` and rescaled into the bounds of a bounded ``Box``.

    ``action = center + scale * tanh(x)`` with ``x`` Gaussian, ``center = (high + low) / 2`` and
    ``scale = (high - low) / 2``. ``log_prob`` is the exact density of the action (the Gaussian
    density of ``x`` minus ``log |d action / d x|``). ``entropy`` is that of the Gaussian before
    squashing (the squashed entropy has no closed form); ``kl`` is exact. The deterministic sample
    is the squashed mean. The log standard deviation is clamped into [-20, 2].

    A sample far out in the tails saturates: ``tanh(x)`` rounds to exactly +-1, so ``log_prob`` of
    the action alone must guess ``x`` (it takes ``atanh(1 - 1e-6)``). Rollouts therefore keep the
    pre-squash sample of :meth:`sample_with_latent`, whose :meth:`log_prob_of_latent` is exact.
    """

    log_std_bounds = (-20.0, 2.0)
    #: actions are pulled this far inside the bounds before ``atanh`` in ``log_prob``
    boundary_epsilon = 1e-6

    def __init__(self, logits: torch.Tensor, action_space: gym.Space, temperature: float = 1.0):
        super().__init__(logits, action_space, temperature)
        low = torch.as_tensor(action_space.low, dtype=logits.dtype, device=logits.device)
        high = torch.as_tensor(action_space.high, dtype=logits.dtype, device=logits.device)
        self._low, self._high = low, high
        self._center, self._scale = (high + low) / 2, (high - low) / 2

    @classmethod
    def check_action_space(cls, action_space: gym.Space) -> None:
        super().check_action_space(action_space)
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise ConfigurationError(
                f"{cls.__name__} needs finite low and high bounds to squash into; use "
                f"DiagonalGaussianProbabilityDistribution ('gaussian') for an unbounded Box, "
                f"or bound the space"
            )
        if np.any(action_space.high <= action_space.low):
            raise ConfigurationError(f"{cls.__name__} needs high > low in every dimension")

    def sample_with_latent(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = (self.mean + self.std * torch.randn_like(self.mean)).detach()
        return self._to_action(x), x

    def _to_action(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self._center + self._scale * torch.tanh(x), self._low, self._high)

    def _to_latent(self, actions: torch.Tensor) -> torch.Tensor:
        bound = 1.0 - self.boundary_epsilon
        return torch.atanh(((actions - self._center) / self._scale).clamp(-bound, bound))

    def _log_abs_det_jacobian(self, x: torch.Tensor) -> torch.Tensor:
        # log(scale * (1 - tanh(x)^2)), with log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x))
        # written in the form that stays finite for large |x|.
        return torch.log(self._scale) + 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))

"""Gaussian distributions over Box action spaces.

Both are a diagonal Gaussian variable ``x`` mapped to the action: clipped into the Box's finite
bounds, or squashed by ``tanh`` into a bounded Box. They share all the Gaussian math and differ
only in that map (:meth:`_to_action`, :meth:`_to_latent` and its log-Jacobian).
"""

from __future__ import annotations

import math
from functools import cache, cached_property

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from maze_core.distributions.base import ProbabilityDistribution, sum_dims
from maze_core.errors import ConfigurationError

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@cache
def _normal_quadrature() -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Hermite nodes and weights for expectations under N(0, 1): E[f(z)] ~ sum(weights *
    f(nodes)). 32 nodes: exact for polynomials up to degree 63; see
    SquashedGaussianProbabilityDistribution.entropy. Computed on first use: ``numpy.polynomial``
    takes 0.08 s to import."""
    nodes, weights = map(torch.from_numpy, np.polynomial.hermite_e.hermegauss(32))
    return nodes, weights / weights.sum()


class DiagonalGaussianProbabilityDistribution(ProbabilityDistribution):
    """Independent Gaussians, one per action dimension of a ``Box`` space.

    The logits are the means and log standard deviations concatenated along the last dim:
    ``(*shape[:-1], 2 * shape[-1])`` for a Box of ``shape`` (``(2,)`` for a scalar Box). The
    temperature scales the standard deviation.

    Where the Box has finite bounds, the actions this returns (:meth:`sample`, :meth:`rsample`,
    :meth:`deterministic_sample`) are the Gaussian samples clipped into them, since an env must
    only get actions inside its space. What is learned stays the Gaussian: :meth:`sample_with_latent`
    also returns the unclipped sample, and :meth:`log_prob_of_latent` of it is its Gaussian density,
    which rollouts keep and training uses (a clipped action has no density: it stands for a whole
    tail). ``log_prob(actions)`` is the Gaussian density at the given actions, ``entropy`` the
    Gaussian's.
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

    @cached_property
    def _bounds(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The Box's ``(low, high)`` (infinite where unbounded), None where it has no finite bound."""
        return _box_bounds(self.action_space, self.mean)

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        return values.sum(self._dims) if self._dims else values

    # The map from the Gaussian variable x to the action: clipping into the bounds here.
    def _to_action(self, x: torch.Tensor) -> torch.Tensor:
        return x if self._bounds is None else torch.clamp(x, *self._bounds)

    def _to_latent(self, actions: torch.Tensor) -> torch.Tensor:
        return actions.to(self.mean.dtype)

    def _log_abs_det_jacobian(self, x: torch.Tensor) -> torch.Tensor | float:
        """log |d action / d x| per action dimension."""
        return 0.0

    def rsample(self) -> torch.Tensor:
        """A reparameterised sample: differentiable with respect to the logits (where not clipped)."""
        return self._to_action(self.mean + self.std * torch.randn_like(self.mean))

    def sample(self) -> torch.Tensor:
        return self.rsample().detach()

    def rsample_with_latent(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action and the Gaussian sample it is made from, both differentiable
        with respect to the logits; ``log_prob_of_latent(latent)`` is the action's exact log-prob,
        even where a squashed action saturates (SAC's actor and temperature losses)."""
        latent = self.mean + self.std * torch.randn_like(self.mean)
        return self._to_action(latent), latent

    def deterministic_rsample(self) -> torch.Tensor:
        """The deterministic action, differentiable with respect to the logits (the actor of TD3
        or DDPG); :meth:`deterministic_sample` is the same value, detached."""
        return self._to_action(self.mean)

    def sample_with_latent(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The action and the Gaussian sample it was made from, where the two can differ."""
        x = (self.mean + self.std * torch.randn_like(self.mean)).detach()
        return self._to_action(x), (None if self._bounds is None else x)

    def deterministic_sample(self) -> torch.Tensor:
        return self._to_action(self.mean.detach())

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.log_prob_of_latent(self._to_latent(actions))

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
    ``scale = (high - low) / 2``. ``log_prob`` is the density of the action (the Gaussian density
    of ``x`` minus ``log |d action / d x|``); ``entropy`` is the entropy of the action, not of the
    Gaussian before squashing (see :meth:`entropy`); ``kl`` is exact. The deterministic sample is
    the squashed mean. The log standard deviation is clamped into [-20, 2].

    A sample far out in the tails saturates: ``tanh(x)`` rounds to exactly +-1, so ``log_prob`` of
    the action alone cannot tell ``x``. Rollouts therefore keep the pre-squash sample of
    :meth:`sample_with_latent`, whose :meth:`log_prob_of_latent` is exact.
    """

    log_std_bounds = (-20.0, 2.0)

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

    @cached_property
    def _center(self) -> torch.Tensor:
        low, high = self._bounds
        return (high + low) / 2

    @cached_property
    def _scale(self) -> torch.Tensor:
        low, high = self._bounds
        return (high - low) / 2

    def _to_action(self, x: torch.Tensor) -> torch.Tensor:
        # the clamp only catches rounding past a bound
        return torch.clamp(self._center + self._scale * torch.tanh(x), *self._bounds)

    def _to_latent(self, actions: torch.Tensor) -> torch.Tensor:
        """``atanh((action - center) / scale)``, computed as ``(log(action - low) - log(high -
        action)) / 2`` in float64, where the distances to the bounds are exact: in float32, ``1 -
        |tanh(x)|`` of an action near a bound keeps few digits, and atanh magnifies their rounding
        (to nats of log-prob at 1e-6 from a bound); ``x`` itself then rounds to float32 harmlessly.
        An action on a bound (a saturated sample) has no finite ``x``; it is taken for the nearest
        action inside that its dtype holds."""
        dtype = torch.promote_types(actions.dtype, self.mean.dtype)
        low, high = (
            torch.as_tensor(bound, dtype=dtype, device=self.mean.device)
            for bound in (self.action_space.low, self.action_space.high)
        )
        inside = torch.clamp(actions.to(dtype), torch.nextafter(low, high), torch.nextafter(high, low))
        inside, low, high = inside.double(), low.double(), high.double()
        return 0.5 * (torch.log(inside - low) - torch.log(high - inside))

    def _log_abs_det_jacobian(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self._scale) + _log_tanh_derivative(x)

    def entropy(self) -> torch.Tensor:
        """The entropy of the action, ``-E[log p(action)] = H(x) + E[log |d action / d x|]``: the
        squash concentrates the mass on the bounds as the std grows, so the Gaussian's entropy
        ``H(x)`` grows while the action's falls, and a bonus on ``H(x)`` pushes towards bang-bang
        actions. The expectation has no closed form; it is taken by 32-node Gauss-Hermite
        quadrature over ``x``, deterministic and differentiable in the mean and std. Its error per
        action dimension: below 1e-4 nats up to log std 0.5, 2e-3 up to 1, 0.1 at the clamp's 2.
        Algorithms use this value both for the entropy bonus and in the logs."""
        # log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)) and E[x] is the mean, so only the
        # softplus needs the quadrature; -2x is Gaussian with mean -2 mean and std 2 std
        nodes, weights = (tensor.to(self.mean) for tensor in _normal_quadrature())
        minus_2x = (-2 * self.mean).unsqueeze(-1) + (2 * self.std).unsqueeze(-1) * nodes
        expected_softplus = F.softplus(minus_2x) @ weights
        expected_log_jacobian = torch.log(self._scale) + 2 * (math.log(2.0) - self.mean - expected_softplus)
        return super().entropy() + self._reduce(expected_log_jacobian)


def _log_tanh_derivative(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - tanh(x)^2)`` as ``2 (log 2 - x - softplus(-2x))``, which stays finite for large |x|."""
    return 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))


#: {(id(box), dtype, device): (box, bounds)}: a distribution is built on every step, and making
#: the bounds' tensors costs more than clamping with them. Keeping the box keeps its id unique.
_BOX_BOUNDS: dict[tuple, tuple[gym.spaces.Box, tuple[torch.Tensor, torch.Tensor] | None]] = {}


def _box_bounds(box: gym.spaces.Box, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    key = (id(box), like.dtype, like.device)
    if key not in _BOX_BOUNDS:
        bounds = None
        if box.bounded_below.any() or box.bounded_above.any():
            with torch.inference_mode(False):  # made while acting, used with autograd in training
                bounds = tuple(
                    torch.as_tensor(b, dtype=like.dtype, device=like.device) for b in (box.low, box.high)
                )
        _BOX_BOUNDS[key] = (box, bounds)
    return _BOX_BOUNDS[key][1]

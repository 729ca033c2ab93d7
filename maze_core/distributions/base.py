"""The interface every action distribution implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import gymnasium as gym
import torch

from maze_core.errors import ConfigurationError


class ProbabilityDistribution(ABC):
    """A distribution over the actions of one action head, parameterised by a network's logits.

    ``log_prob``, ``entropy`` and ``kl`` return one value per sample (the batch shape: the logits'
    leading dims): for multi-dimensional actions they are **sums** over the action dimensions,
    i.e. they describe the joint distribution of all dimensions.

    Subclasses are built on every policy step, so constructors must stay cheap: no argument
    validation and no ``torch.distributions`` objects; spaces are checked once, by
    :meth:`check_action_space`, when the :class:`DistributionMapper` is built.
    """

    #: the gymnasium space types this distribution handles
    space_types: tuple[type[gym.Space], ...] = ()

    def __init__(self, logits: torch.Tensor, action_space: gym.Space, temperature: float = 1.0):
        self.action_space = action_space
        self.temperature = temperature

    @classmethod
    @abstractmethod
    def required_logits_shape(cls, action_space: gym.Space) -> tuple[int, ...]:
        """Shape of the logits (per sample, no batch dims) a network must produce for ``action_space``."""

    @classmethod
    def check_action_space(cls, action_space: gym.Space) -> None:
        """Raise a ConfigurationError saying why this distribution cannot handle ``action_space``."""
        if not isinstance(action_space, cls.space_types):
            handled = " or ".join(t.__name__ for t in cls.space_types)
            raise ConfigurationError(f"{cls.__name__} handles {handled} action spaces only")

    @abstractmethod
    def sample(self) -> torch.Tensor:
        """A random action per sample (no gradient)."""

    @abstractmethod
    def deterministic_sample(self) -> torch.Tensor:
        """The most likely action per sample (the mode), used for deterministic evaluation."""

    @abstractmethod
    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability (density) of ``actions``, summed over action dimensions: the batch shape."""

    @abstractmethod
    def entropy(self) -> torch.Tensor:
        """Entropy, summed over action dimensions: the batch shape. Where it has no closed form, a
        differentiable estimate (the distribution's docstring says which)."""

    @abstractmethod
    def kl(self, other: ProbabilityDistribution) -> torch.Tensor:
        """KL(self || other) to a distribution of the same type, summed over action dimensions."""

    def sample_with_latent(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A random action and, for a distribution whose action is a lossy map of a latent sample
        (a squashed Gaussian, whose saturated actions all round to the bound; a Gaussian clipped
        into a bounded Box), that latent: :meth:`log_prob_of_latent` then gives the exact log-prob.
        Default: ``(sample(), None)``."""
        return self.sample(), None

    def log_prob_of_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Log-prob of the action made from ``latent`` (one :meth:`sample_with_latent` returned)."""
        raise NotImplementedError(f"{type(self).__name__} samples no latent; use log_prob(actions)")

    def neg_log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return -self.log_prob(actions)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(action_space={self.action_space}, temperature={self.temperature})"


def sum_dims(n_dims: int) -> tuple[int, ...]:
    """The trailing ``n_dims`` dims, as a ``dim`` argument for ``Tensor.sum``."""
    return tuple(range(-n_dims, 0))

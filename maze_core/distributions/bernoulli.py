"""Bernoulli distribution over MultiBinary action spaces."""

from __future__ import annotations

import gymnasium as gym
import torch
import torch.nn.functional as F

from maze_core.distributions.base import ProbabilityDistribution, sum_dims


class BernoulliProbabilityDistribution(ProbabilityDistribution):
    """Independent Bernoullis, one per element of a ``MultiBinary`` space; logits have its shape.

    Actions are int8 arrays of 0 and 1 (the space's dtype). The temperature divides the logits.
    """

    space_types = (gym.spaces.MultiBinary,)

    def __init__(self, logits: torch.Tensor, action_space: gym.Space, temperature: float = 1.0):
        super().__init__(logits, action_space, temperature)
        self.logits = logits if temperature == 1.0 else logits / temperature
        self._dims = sum_dims(len(action_space.shape))

    @classmethod
    def required_logits_shape(cls, action_space: gym.spaces.MultiBinary) -> tuple[int, ...]:
        return tuple(int(d) for d in action_space.shape)

    @property
    def probs(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        return values.sum(self._dims) if self._dims else values

    def sample(self) -> torch.Tensor:
        logits = self.logits.detach()
        return (torch.rand_like(logits) < torch.sigmoid(logits)).to(torch.int8)

    def deterministic_sample(self) -> torch.Tensor:
        return (self.logits.detach() > 0).to(torch.int8)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        targets = actions.to(self.logits.dtype)
        return -self._reduce(F.binary_cross_entropy_with_logits(self.logits, targets, reduction="none"))

    def entropy(self) -> torch.Tensor:
        return self._reduce(F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none"))

    def kl(self, other: BernoulliProbabilityDistribution) -> torch.Tensor:
        p = self.probs
        log_p, log_not_p = F.logsigmoid(self.logits), F.logsigmoid(-self.logits)
        log_q, log_not_q = F.logsigmoid(other.logits), F.logsigmoid(-other.logits)
        return self._reduce(p * (log_p - log_q) + (1 - p) * (log_not_p - log_not_q))

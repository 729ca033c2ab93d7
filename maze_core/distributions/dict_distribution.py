"""The joint distribution over all action heads of one step."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch

from maze_core.distributions.base import ProbabilityDistribution


class DictProbabilityDistribution(Mapping[str, ProbabilityDistribution]):
    """Independent distributions, one per action head: ``sample()`` returns ``{head: action}``;
    ``log_prob``, ``entropy`` and ``kl`` are **sums** over heads (each already a sum over its action
    dimensions), so they have the batch shape. Per-head values for logging: :meth:`log_prob_dict`,
    :meth:`entropy_dict`. Indexing by head gives the head's distribution.
    """

    def __init__(self, distribution_dict: Mapping[str, ProbabilityDistribution]):
        self.distribution_dict = dict(distribution_dict)

    def __getitem__(self, head: str) -> ProbabilityDistribution:
        return self.distribution_dict[head]

    def __iter__(self) -> Iterator[str]:
        return iter(self.distribution_dict)

    def __len__(self) -> int:
        return len(self.distribution_dict)

    def sample(self) -> dict[str, torch.Tensor]:
        return {head: dist.sample() for head, dist in self.distribution_dict.items()}

    def deterministic_sample(self) -> dict[str, torch.Tensor]:
        return {head: dist.deterministic_sample() for head, dist in self.distribution_dict.items()}

    def log_prob_dict(self, actions: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        missing = [head for head in self.distribution_dict if head not in actions]
        if missing:
            raise KeyError(f"actions lack the action heads {missing} (got {sorted(actions)})")
        return {head: dist.log_prob(actions[head]) for head, dist in self.distribution_dict.items()}

    def log_prob(self, actions: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Joint log-probability of ``{head: action}`` (batch shape)."""
        return _sum(self.log_prob_dict(actions).values())

    def neg_log_prob(self, actions: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return -self.log_prob(actions)

    def entropy_dict(self) -> dict[str, torch.Tensor]:
        return {head: dist.entropy() for head, dist in self.distribution_dict.items()}

    def entropy(self) -> torch.Tensor:
        """Joint entropy (batch shape)."""
        return _sum(self.entropy_dict().values())

    def kl(self, other: DictProbabilityDistribution) -> torch.Tensor:
        """KL(self || other), summed over heads (batch shape)."""
        return _sum(dist.kl(other[head]) for head, dist in self.distribution_dict.items())

    def __repr__(self) -> str:
        heads = ", ".join(f"{head}: {type(dist).__name__}" for head, dist in self.distribution_dict.items())
        return f"DictProbabilityDistribution({heads})"


def _sum(values) -> torch.Tensor:
    iterator = iter(values)
    total = next(iterator)
    for value in iterator:
        total = total + value
    return total

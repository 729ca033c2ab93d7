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

    def sample_with_latents(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """``({head: action}, {head: latent})``, the latter only for heads whose distribution has one
        (see :meth:`ProbabilityDistribution.sample_with_latent`); pass both to :meth:`log_prob`."""
        actions, latents = {}, {}
        for head, dist in self.distribution_dict.items():
            actions[head], latent = dist.sample_with_latent()
            if latent is not None:
                latents[head] = latent
        return actions, latents

    def rsample_with_latents(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Like :meth:`sample_with_latents`, reparameterised: both differentiable with respect to
        the logits (every head needs a reparameterisable distribution: a Gaussian)."""
        actions, latents = {}, {}
        for head, dist in self.items():
            actions[head], latents[head] = _reparameterised(head, dist).rsample_with_latent()
        return actions, latents

    def deterministic_rsample(self) -> dict[str, torch.Tensor]:
        """The deterministic actions, differentiable with respect to the logits (a Gaussian per head)."""
        return {head: _reparameterised(head, dist).deterministic_rsample() for head, dist in self.items()}

    def log_prob_dict(
        self, actions: Mapping[str, torch.Tensor], latents: Mapping[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-head log-probs; a head with a latent in ``latents`` is evaluated exactly from it."""
        latents = latents or {}
        missing = [head for head in self.distribution_dict if head not in actions and head not in latents]
        if missing:
            raise KeyError(f"actions lack the action heads {missing} (got {sorted(actions)})")
        return {
            head: dist.log_prob_of_latent(latents[head]) if head in latents else dist.log_prob(actions[head])
            for head, dist in self.distribution_dict.items()
        }

    def log_prob(
        self, actions: Mapping[str, torch.Tensor], latents: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Joint log-probability of ``{head: action}`` (batch shape), exact from ``latents`` where given."""
        return _sum(self.log_prob_dict(actions, latents).values())

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


def _reparameterised(head: str, distribution: ProbabilityDistribution) -> ProbabilityDistribution:
    if not hasattr(distribution, "rsample_with_latent"):
        raise TypeError(
            f"action head {head!r} has a {type(distribution).__name__}, which has no reparameterised "
            "samples: map it to a Gaussian ('gaussian' or 'squashed_gaussian')"
        )
    return distribution


def _sum(values) -> torch.Tensor:
    iterator = iter(values)
    total = next(iterator)
    for value in iterator:
        total = total + value
    return total

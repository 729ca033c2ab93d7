"""The SAC update: collection, the replay buffer, epochs and checkpoints are the base trainer's."""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
import torch

from maze_core.distributions import (
    DiagonalGaussianProbabilityDistribution,
    DistributionMapper,
    SquashedGaussianProbabilityDistribution,
)
from maze_core.errors import ConfigurationError
from maze_core.training.off_policy import OffPolicyTrainer
from maze_core.training.replay import ReplayBatch


class SAC(OffPolicyTrainer):
    """Soft Actor-Critic on twin Q(s, a) critics (``model.critic``, ``n_critics`` >= 2; the smallest
    of them is used) and a stochastic policy (``model.policy``, a Gaussian per Box head: squashed by
    tanh into bounded Boxes). Each gradient step updates, in this order, the temperature α, the
    critics and the actor, then moves the critics' targets towards the critics."""

    statistics_reduction: ClassVar[dict[str, str]] = {"ent_coef": "last"}
    headline_statistics = ("critic_loss", "actor_loss", "ent_coef", "entropy")

    def setup(self) -> None:
        config, policy, critic = self.config, self.model.policy, self.model.critic
        if critic.n_critics < 2:
            raise ConfigurationError(
                f"SAC learns with twin critics, but the critic has n_critics={critic.n_critics}: set "
                f"critic.n_critics=2 (its default with SAC's critic 'step_state_action')"
            )
        mapper = getattr(policy, "distribution_mapper", None)
        if mapper is None:
            raise ConfigurationError(
                f"SAC learns a stochastic policy (policy 'probabilistic'), but the policy is a "
                f"{type(policy).__name__}, which has no action distributions"
            )
        self.log_scale = unit_box_log_scale(mapper)
        n_action_dims = sum(math.prod(space.shape) for space in mapper.action_space.spaces.values())
        auto = config.target_entropy == "auto"
        self.target_entropy = -float(n_action_dims) if auto else float(config.target_entropy)

        self.target_critic = self.target_copy("critic", critic)
        self.critic_parameters = list(critic.parameters())
        self.add_optimizer("actor", policy.parameters(), config.lr)
        self.add_optimizer("critic", critic.parameters(), config.lr)
        log_ent_coef = torch.tensor(math.log(config.initial_ent_coef))
        if config.learns_ent_coef:  # a parameter of its own, kept in checkpoints
            self.log_ent_coef = self.add_parameter("log_ent_coef", log_ent_coef)
            self.add_optimizer("ent_coef", [self.log_ent_coef], config.lr)
        else:
            self.log_ent_coef = log_ent_coef.to(self.device)

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        config, critic = self.config, self.model.critic
        actions, log_prob = self.sample_actions(batch.observations)  # with gradients, for the actor

        # the temperature: alpha rises while the policy's entropy is below the target
        ent_coef = self.log_ent_coef.detach().exp()
        if config.learns_ent_coef:
            ent_coef_loss = -(self.log_ent_coef * (log_prob + self.target_entropy).detach()).mean()
            self.optimize("ent_coef", ent_coef_loss)

        # the critics: both regress to the soft value of the next state under the smaller target Q
        with torch.no_grad():
            next_actions, next_log_prob = self.sample_actions(batch.next_observations)
            next_q = self.target_critic.q_value(batch.next_observations, next_actions).min(dim=0).values
            next_value = next_q - ent_coef * next_log_prob
            target = batch.rewards + config.gamma * (1.0 - batch.terminated) * next_value
        q = critic.q_value(batch.observations, batch.actions)  # (n_critics, B)
        critic_loss = 0.5 * ((q - target) ** 2).mean(dim=1).sum()
        critic_grad_norm = self.optimize("critic", critic_loss)

        # the actor: high Q under the updated critics, high entropy (no gradient into the critics)
        with _frozen(self.critic_parameters):
            q_new_actions = critic.q_value(batch.observations, actions).min(dim=0).values
        actor_loss = (ent_coef * log_prob - q_new_actions).mean()
        actor_grad_norm = self.optimize("actor", actor_loss)

        if self.target_update_due():
            self.update_target("critic", critic)
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "ent_coef": ent_coef.item(),
            "ent_coef_loss": ent_coef_loss.item() if config.learns_ent_coef else 0.0,
            "entropy": -log_prob.mean().item(),
            "q_value": q.mean().item(),
            "critic_grad_norm": critic_grad_norm,
            "actor_grad_norm": actor_grad_norm,
        }

    def sample_actions(
        self, observations: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Actions ``{head: (B, ...)}`` sampled by reparameterisation (differentiable in the policy's
        weights) and their joint log-probability ``(B,)``, of the actions rescaled into [-1, 1]
        (exact from the pre-squash samples, even where tanh saturates)."""
        distribution = self.model.policy.distribution(observations)
        actions, latents = distribution.rsample_with_latents()
        return actions, distribution.log_prob(actions, latents) + self.log_scale


def unit_box_log_scale(mapper: DistributionMapper) -> float:
    """What turns the log-prob of an action into that of the action rescaled into [-1, 1] (as
    Stable-Baselines3 computes it, so that the target entropy does not depend on the Box's units):
    ``log((high - low) / 2)`` summed over the dimensions of the squashed heads. Refuses heads whose
    distribution is not a Gaussian (no reparameterised samples)."""
    log_scale = 0.0
    for head, space in mapper.action_space.spaces.items():
        distribution = mapper.distribution_class(head)
        if not issubclass(distribution, DiagonalGaussianProbabilityDistribution):
            raise ConfigurationError(
                f"SAC samples actions with gradients from Gaussians, but action head {head!r} uses "
                f"{distribution.__name__}: map it to 'squashed_gaussian'"
            )
        if issubclass(distribution, SquashedGaussianProbabilityDistribution):
            log_scale += float(np.log((space.high - space.low) / 2).sum())
    return log_scale


@contextmanager
def _frozen(parameters: list[torch.nn.Parameter]):
    """No gradients into ``parameters`` for what is computed inside (gradients still flow through
    the computation into its inputs)."""
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter in parameters:
            parameter.requires_grad_(True)

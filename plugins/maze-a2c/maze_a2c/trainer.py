"""The A2C update: the rollouts, epochs, evaluation and checkpoints are the base trainer's."""

from __future__ import annotations

from maze_core.training.trainer import ActorCriticTrainer


class A2C(ActorCriticTrainer):
    """Synchronous advantage actor-critic (Mnih et al., 2016) with GAE."""

    # strictly on-policy: its update evaluates the rollout (log-probs and values, with gradients)
    # with the weights that acted, so the collector skips the behaviour log-probs and values
    needs_behaviour = False
    # valid_only below leaves a native env's reset-only rows out: keeping them drops no env step
    handles_reset_rows = True
    headline_statistics = ("policy_loss", "value_loss", "entropy")

    def update(self, rollout, critic_only: bool = False) -> dict[str, float]:
        config = self.config
        log_probs, entropies, values = self.evaluate_actions(rollout)
        advantages, returns = self.advantages_and_returns(rollout, values)
        log_probs, entropies, values, advantages, returns = rollout.valid_only(
            log_probs, entropies, values, advantages, returns
        )
        advantages = self.normalize_advantages(advantages)

        policy_loss = -(advantages * log_probs).mean()
        value_loss = (returns - values).pow(2).mean()
        entropy = entropies.mean()
        if critic_only:
            loss = value_loss
        else:
            loss = config.policy_loss_coef * policy_loss + config.value_loss_coef * value_loss
            if config.entropy_coef:  # a zero term would still cost a backward pass through the entropy
                loss = loss - config.entropy_coef * entropy
        stats = self.gradient_step(loss)
        return {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "value": values.mean().item(),
            **stats,
        }

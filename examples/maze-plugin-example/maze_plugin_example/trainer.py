"""The REINFORCE update; rollouts, epochs, evaluation and checkpoints are the base trainer's."""

from __future__ import annotations

import torch
from maze_core.training.trainer import ActorCriticTrainer


class Reinforce(ActorCriticTrainer):
    """REINFORCE (Williams, 1992), optionally with a learned state-value baseline.

    Rollouts are fixed-length slices of continuing episodes, so a transition's Monte-Carlo return
    is known only if its episode ends within the rollout. The others (the tail of each env's
    rollout) are left out of the update rather than bootstrapped from the critic, which would make
    this actor-critic: every gradient uses true returns. A time limit ends an episode like a
    terminal state does.
    """

    def update(self, rollout, critic_only: bool = False) -> dict[str, float]:
        config = self.config
        discounts = torch.where(rollout.env_step_ends, config.gamma, 1.0)
        returns, complete = monte_carlo_returns(
            rollout.rewards, rollout.terminated | rollout.truncated, discounts
        )
        if not complete.any():  # no episode ended: nothing to learn from this rollout
            return {"complete_fraction": 0.0}
        log_probs, entropies, values = (x[complete] for x in self.evaluate_actions(rollout))
        returns = returns[complete]

        advantages = returns - values.detach() if config.baseline else returns
        advantages = self.normalize_advantages(advantages)
        policy_loss = -(advantages * log_probs).mean()
        value_loss = (returns - values).pow(2).mean()
        entropy = entropies.mean()
        if critic_only:
            loss = value_loss
        else:
            loss = policy_loss - config.entropy_coef * entropy
            if config.baseline:
                loss = loss + config.value_loss_coef * value_loss
        return {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "complete_fraction": complete.float().mean().item(),
            **self.gradient_step(loss),
        }


def monte_carlo_returns(
    rewards: torch.Tensor, episode_ends: torch.Tensor, discounts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discounted returns-to-go within each episode of a ``(T, N)`` rollout, and which are complete.

    ``discounts[t]`` discounts the rewards after transition ``t``. A return is complete when its
    episode ends within the rollout; the transitions after an env's last episode end belong to an
    episode that continues in the next rollout.
    """
    returns = torch.zeros_like(rewards)
    complete = torch.zeros_like(episode_ends)
    running = torch.zeros_like(rewards[0])
    ended = torch.zeros_like(episode_ends[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + discounts[t] * running * (~episode_ends[t])
        ended = ended | episode_ends[t]
        returns[t] = running
        complete[t] = ended
    return returns, complete

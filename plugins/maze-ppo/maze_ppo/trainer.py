"""The PPO update: the rollouts, epochs, evaluation and checkpoints are the base trainer's."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from maze_core.training.trainer import ActorCriticTrainer


class PPO(ActorCriticTrainer):
    """Proximal policy optimization (Schulman et al., 2017), clipped surrogate objective, with GAE."""

    # minibatches leave a native env's reset-only rows out: keeping them drops no env step
    handles_reset_rows = True

    # declared (an update that stops early on target_kl, or whose returns have no variance, returns
    # fewer keys); clip_range, grad norms and early_stopped are only in the files
    headline_statistics = (
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_fraction",
        "explained_variance",
    )

    def update(self, rollout, critic_only: bool = False) -> dict[str, float]:
        config = self.config
        clip_range = self.scheduled(config.clip_range, config.clip_range_schedule)
        advantages, returns = self.advantages_and_returns(rollout)
        stats = defaultdict(list, clip_range=[clip_range])
        for _ in range(config.n_update_passes):
            for batch in rollout.minibatches(config.n_minibatches, advantages=advantages, returns=returns):
                log_probs, entropies, values = self.evaluate_actions(batch)
                log_ratio = log_probs - batch.log_probs
                ratio = log_ratio.exp()
                with torch.no_grad():
                    # the low-variance KL(behaviour || current) estimator (Schulman, "Approximating KL")
                    approx_kl = ((ratio - 1) - log_ratio).mean().item()
                if config.target_kl is not None and approx_kl > 1.5 * config.target_kl:
                    stats["early_stopped"].append(1.0)
                    return _means(stats, rollout, returns)

                advantage = self.normalize_advantages(batch["advantages"])
                clipped_ratio = ratio.clamp(1 - clip_range, 1 + clip_range)
                policy_loss = -torch.min(advantage * ratio, advantage * clipped_ratio).mean()
                value_loss = (batch["returns"] - values).pow(2)
                if config.clip_range_value is not None:
                    change = (values - batch.values).clamp(-config.clip_range_value, config.clip_range_value)
                    value_loss = torch.max(value_loss, (batch["returns"] - batch.values - change).pow(2))
                value_loss = value_loss.mean()
                entropy = entropies.mean()

                loss = config.value_loss_coef * value_loss
                if not critic_only:
                    loss = loss + policy_loss
                    if config.entropy_coef:  # a zero term would still cost a backward pass
                        loss = loss - config.entropy_coef * entropy
                for name, value in self.gradient_step(loss).items():
                    stats[name].append(value)
                stats["policy_loss"].append(policy_loss.item())
                stats["value_loss"].append(value_loss.item())
                stats["entropy"].append(entropy.item())
                stats["approx_kl"].append(approx_kl)
                stats["clip_fraction"].append(((ratio - 1).abs() > clip_range).float().mean().item())
        stats["early_stopped"].append(0.0)
        return _means(stats, rollout, returns)


def _means(stats: dict[str, list[float]], rollout, returns: torch.Tensor) -> dict[str, float]:
    """The update's mean statistics, the mean value and how much of the returns' variance the
    critic explained while acting (1: all, 0: no better than their mean; left out if undefined)."""
    result = {name: float(np.mean(values)) for name, values in stats.items()}
    returns, values = rollout.valid_only(returns, rollout.values)
    result["value"] = values.mean().item()
    variance = returns.var().item() if returns.numel() > 1 else 0.0
    if variance > 0:
        result["explained_variance"] = 1.0 - (returns - values).var().item() / variance
    return result

"""An actor-critic written from the documented tensors alone, with no thought of ``rollout.valid``:
every mean is over all ``T * N`` rows it is given. It reports the smallest reward and the row
count it saw, so a test can tell whether a native env's reset-only rows (reward 0) reached it."""

from typing import ClassVar

import attrs

from maze_core.training.config import OnPolicyAlgorithmConfig
from maze_core.training.trainer import ActorCriticTrainer


class NaivePG(ActorCriticTrainer):
    statistics_reduction: ClassVar[dict[str, str]] = {"reward_min": "min", "rows": "sum"}

    def update(self, rollout, critic_only: bool = False) -> dict[str, float]:
        log_probs, entropies, values = self.evaluate_actions(rollout)
        advantages, returns = self.advantages_and_returns(rollout)
        loss = -(advantages * log_probs).mean() + 0.5 * (returns - values).pow(2).mean()
        self.gradient_step(loss)
        return {"reward_min": rollout.rewards.min().item(), "rows": float(rollout.rewards.numel())}


@attrs.define(kw_only=True)
class NaivePGConfig(OnPolicyAlgorithmConfig):
    trainer_class: ClassVar[str] = "maze_test_naive.algorithm:NaivePG"

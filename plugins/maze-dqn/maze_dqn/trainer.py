"""The DQN update: collection, the replay buffer, epochs and checkpoints are the base trainer's."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch.nn import functional

from maze_core.distributions.masks import masked_argmax
from maze_core.training.off_policy import OffPolicyTrainer
from maze_core.training.replay import ReplayBatch


class DQN(OffPolicyTrainer):
    """Deep Q-learning on a Q network over all actions (``model.critic``), acting ε-greedily
    (``model.policy``)."""

    statistics_reduction: ClassVar[dict[str, str]] = {"epsilon": "last"}
    headline_statistics = ("q_loss", "q_value", "epsilon")

    def setup(self) -> None:
        critic = self.model.critic
        self.target_critic = self.target_copy("critic", critic)
        self.add_optimizer("critic", critic.parameters(), self.config.lr)

    def before_collect(self) -> None:
        config = self.config
        progress = min(self.fraction_of_training() / config.exploration_fraction, 1.0)
        start, end = config.exploration_initial_eps, config.exploration_final_eps
        self.model.policy.epsilon = start + progress * (end - start)

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        config, critic = self.config, self.model.critic
        (action_key,) = batch.actions
        actions = batch.actions[action_key].long() - critic.action_space_of().start
        with torch.no_grad():
            next_q = self.target_critic.q_values(batch.next_observations)[0]
            # the best valid next action (a terminal observation's mask may allow none: not used)
            valid = critic.valid_actions(batch.next_observations, check=False)
            # double DQN: the online network picks the action, the target network values it
            chooser = critic.q_values(batch.next_observations)[0] if config.double_q else next_q
            best = masked_argmax(chooser, valid).unsqueeze(-1)
            next_value = next_q.gather(-1, best).squeeze(-1)
            target = batch.rewards + config.gamma * (1.0 - batch.terminated) * next_value
        q = critic.q_values(batch.observations)[0].gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        loss = functional.smooth_l1_loss(q, target)
        grad_norm = self.optimize("critic", loss)
        if self.target_update_due():
            self.update_target("critic", critic)
        return {
            "q_loss": loss.item(),
            "q_value": q.mean().item(),
            "epsilon": self.model.policy.epsilon,
            "grad_norm": grad_norm,
        }

"""A2C hyperparameters. Field names and defaults are those of the original Maze tutorial."""

from __future__ import annotations

from typing import ClassVar

import attrs

from maze_core.training.config import (
    AlgorithmConfig,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_interval,
)


@attrs.define(kw_only=True)
class A2CAlgorithmConfig(AlgorithmConfig):
    """Advantage actor-critic.

    One epoch is ``epoch_length`` updates; one update is a rollout of ``n_rollout_steps`` steps on
    every env, then one gradient step on
    ``policy_loss_coef * policy_loss + value_loss_coef * value_loss - entropy_coef * entropy``.
    ``gae_lambda`` 1.0 gives plain bootstrapped discounted returns; ``max_grad_norm`` 0 disables
    clipping; the first ``critic_burn_in_epochs`` epochs train only the critic; ``patience``
    epochs without a better evaluation stop training (0 disables).
    """

    trainer_class: ClassVar[str] = "maze_a2c.trainer:A2C"

    n_epochs: int = attrs.field(default=0, validator=non_negative_int)
    epoch_length: int = attrs.field(default=25, validator=positive_int)
    patience: int = attrs.field(default=15, validator=non_negative_int)
    critic_burn_in_epochs: int = attrs.field(default=0, validator=non_negative_int)
    n_rollout_steps: int = attrs.field(default=100, validator=positive_int)
    lr: float = attrs.field(default=0.0005, validator=positive_float)
    gamma: float = attrs.field(default=0.98, validator=unit_interval)
    gae_lambda: float = attrs.field(default=1.0, validator=unit_interval)
    policy_loss_coef: float = attrs.field(default=1.0, validator=non_negative_float)
    value_loss_coef: float = attrs.field(default=0.5, validator=non_negative_float)
    entropy_coef: float = attrs.field(default=0.00025, validator=non_negative_float)
    max_grad_norm: float = attrs.field(default=0.0, validator=non_negative_float)

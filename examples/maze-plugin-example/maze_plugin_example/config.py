"""REINFORCE hyperparameters: an attrs class, validated when it is built."""

from __future__ import annotations

from typing import ClassVar

import attrs
from maze_core.training.config import (
    OnPolicyAlgorithmConfig,
    boolean,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_interval,
)


@attrs.define(kw_only=True)
class ReinforceAlgorithmConfig(OnPolicyAlgorithmConfig):
    """REINFORCE: policy gradient on Monte-Carlo returns.

    One epoch is ``epoch_length`` updates; one update is a rollout of ``n_rollout_steps`` steps on
    every env, then one gradient step on the transitions whose episode ended within the rollout
    (make ``n_rollout_steps`` several episode lengths long). With ``baseline``, a critic learns
    the state value and the policy gradient uses ``return - value`` (lower variance, no bias);
    without it, the plain return. ``patience`` epochs without a better evaluation stop training
    (0 disables).

    The fields the base trainer (``ActorCriticTrainer``) reads come from
    ``OnPolicyAlgorithmConfig``; this class changes some of their defaults and adds its own.
    """

    trainer_class: ClassVar[str] = "maze_plugin_example.trainer:Reinforce"

    epoch_length: int = attrs.field(default=10, validator=positive_int)
    patience: int = attrs.field(default=10, validator=non_negative_int)
    lr: float = attrs.field(default=0.001, validator=positive_float)
    gamma: float = attrs.field(default=0.99, validator=unit_interval)
    baseline: bool = attrs.field(default=True, validator=boolean)
    value_loss_coef: float = attrs.field(default=0.5, validator=non_negative_float)
    entropy_coef: float = attrs.field(default=0.0, validator=non_negative_float)

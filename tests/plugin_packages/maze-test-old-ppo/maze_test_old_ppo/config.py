"""The config as it was written then: derived from AlgorithmConfig, with the fields the trainer read
at the time (no optimizer, optimizer_eps, lr_schedule or normalize_advantages)."""

from typing import ClassVar

import attrs

from maze_core.training.config import AlgorithmConfig, positive_float, positive_int, unit_interval


@attrs.define(kw_only=True)
class PPOAlgorithmConfig(AlgorithmConfig):
    trainer_class: ClassVar[str] = "maze_test_old_ppo.trainer:OldPPO"

    epoch_length: int = attrs.field(default=10, validator=positive_int)
    patience: int = attrs.field(default=15, validator=positive_int)
    critic_burn_in_epochs: int = attrs.field(default=0)
    n_rollout_steps: int = attrs.field(default=128, validator=positive_int)
    lr: float = attrs.field(default=0.0003, validator=positive_float)
    gamma: float = attrs.field(default=0.99, validator=unit_interval)
    gae_lambda: float = attrs.field(default=0.95, validator=unit_interval)
    max_grad_norm: float = attrs.field(default=0.5)
    clip_range: float = attrs.field(default=0.2, validator=positive_float)

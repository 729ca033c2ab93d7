"""A2C hyperparameters. Field names and defaults are those of the original Maze tutorial."""

from __future__ import annotations

from typing import ClassVar

import attrs

from maze_a2c.presets import PRESETS
from maze_core.presets import Preset
from maze_core.training.config import OnPolicyAlgorithmConfig, non_negative_float


@attrs.define(kw_only=True)
class A2CAlgorithmConfig(OnPolicyAlgorithmConfig):
    """Advantage actor-critic: the training-loop fields of :class:`OnPolicyAlgorithmConfig` (with
    the seed's defaults) plus the loss coefficients.

    One update is a rollout of ``n_rollout_steps`` steps on every env, then one gradient step on
    ``policy_loss_coef * policy_loss + value_loss_coef * value_loss - entropy_coef * entropy``.
    """

    trainer_class: ClassVar[str] = "maze_a2c.trainer:A2C"
    other_names: ClassVar[dict[str, str]] = {  # Stable-Baselines3's A2C
        "learning_rate": "lr",
        "n_steps": "n_rollout_steps",
        "ent_coef": "entropy_coef",
        "vf_coef": "value_loss_coef",
        "use_rms_prop": "optimizer ('adam' or 'rmsprop')",
        "rms_prop_eps": "optimizer_eps",
        "normalize_advantage": "normalize_advantages",
    }
    #: tuned settings per env, chosen with ``preset="zoo"`` (``--preset zoo``)
    presets: ClassVar[tuple[Preset, ...]] = PRESETS
    default_env_steps: ClassVar[int] = 200_000  # CartPole-v1 within 140k (docs/training.md)

    policy_loss_coef: float = attrs.field(default=1.0, validator=non_negative_float)
    value_loss_coef: float = attrs.field(default=0.5, validator=non_negative_float)
    entropy_coef: float = attrs.field(default=0.00025, validator=non_negative_float)

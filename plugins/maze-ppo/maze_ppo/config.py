"""PPO hyperparameters. Defaults learn CartPole-v1 within 100k env steps with no overrides."""

from __future__ import annotations

from typing import ClassVar

import attrs

from maze_core.presets import Preset
from maze_core.training.config import (
    SCHEDULES,
    OnPolicyAlgorithmConfig,
    non_negative_float,
    one_of,
    optional,
    positive_float,
    positive_int,
    unit_interval,
)
from maze_ppo.presets import PRESETS


@attrs.define(kw_only=True)
class PPOAlgorithmConfig(OnPolicyAlgorithmConfig):
    """Proximal policy optimization with the clipped surrogate objective.

    Each update collects a rollout of ``n_rollout_steps`` steps on every env, then makes
    ``n_update_passes`` passes over it, each in ``n_minibatches`` shuffled minibatches, with one
    gradient step per minibatch on ``policy_loss + value_loss_coef * value_loss -
    entropy_coef * entropy``. The probability ratio is clipped to ``1 +- clip_range``;
    ``clip_range_value`` (None: off) clips the value change from the value at collection time and
    takes the larger of the clipped and unclipped value losses (OpenAI Baselines' PPO2;
    Stable-Baselines3's ``clip_range_vf`` uses the clipped loss alone).
    ``target_kl`` (None: off) ends an update's passes once the approximate KL divergence from the
    behaviour policy exceeds 1.5 times it. ``clip_range_schedule`` "linear" decays the clip range
    to 0 like ``lr_schedule`` does the learning rate.

    Note: ``n_epochs`` is the training length in epochs, as for every Maze algorithm; what
    Stable-Baselines3 calls ``n_epochs`` (passes over each rollout) is ``n_update_passes`` here.
    """

    trainer_class: ClassVar[str] = "maze_ppo.trainer:PPO"
    #: tuned settings per env, chosen with ``preset="zoo"`` (``--preset zoo``)
    presets: ClassVar[tuple[Preset, ...]] = PRESETS
    default_env_steps: ClassVar[int] = 100_000  # learns CartPole-v1 (the zoo's n_timesteps)
    #: healthy runs stay near 0.01-0.05 (docs/presets.md); at 0.1 the updates are too large
    warning_limits: ClassVar[dict[str, tuple[float, str]]] = {
        "approx_kl": (
            0.1,
            "the policy changes too much per update: lower algorithm.lr or algorithm.n_update_passes, "
            "or set algorithm.target_kl (e.g. 0.02); tuned settings: --preset zoo where the env has "
            "them (docs/presets.md)",
        )
    }
    other_names: ClassVar[dict[str, str]] = {
        "update_epochs": "n_update_passes (n_epochs is the training length)",
        "n_epochs_per_update": "n_update_passes",
        "batch_size": "n_minibatches (each rollout's n_rollout_steps * n_envs transitions are split "
        "into n_minibatches minibatches)",
        "n_steps": "n_rollout_steps",
        "ent_coef": "entropy_coef",
        "vf_coef": "value_loss_coef",
        "clip_range_vf": "clip_range_value, which is not the same loss: Stable-Baselines3 takes the "
        "clipped value loss alone, Maze the larger of the clipped and unclipped losses (as OpenAI "
        "Baselines' PPO2)",
        "learning_rate": "lr",
    }

    epoch_length: int = attrs.field(default=10, validator=positive_int)
    n_rollout_steps: int = attrs.field(default=128, validator=positive_int)
    lr: float = attrs.field(default=0.0003, validator=positive_float)
    gamma: float = attrs.field(default=0.99, validator=unit_interval)
    gae_lambda: float = attrs.field(default=0.95, validator=unit_interval)
    max_grad_norm: float = attrs.field(default=0.5, validator=non_negative_float)
    n_update_passes: int = attrs.field(default=10, validator=positive_int)
    n_minibatches: int = attrs.field(default=4, validator=positive_int)
    clip_range: float = attrs.field(default=0.2, validator=positive_float)
    clip_range_schedule: str = attrs.field(default="constant", validator=one_of(*SCHEDULES))
    clip_range_value: float | None = attrs.field(default=None, validator=optional(positive_float))
    target_kl: float | None = attrs.field(default=None, validator=optional(positive_float))
    value_loss_coef: float = attrs.field(default=0.5, validator=non_negative_float)
    entropy_coef: float = attrs.field(default=0.0, validator=non_negative_float)

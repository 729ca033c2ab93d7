"""SAC's settings: the off-policy trainer's fields plus the entropy temperature."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from maze_core.errors import ConfigurationError
from maze_core.presets import Preset
from maze_core.training.config import (
    OffPolicyAlgorithmConfig,
    positive_float,
    positive_fraction,
    positive_int,
)
from maze_sac.presets import PRESETS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def ent_coef_setting(_, attribute, value):
    """``"auto"``, ``"auto_<initial value>"`` (learned) or a number > 0 (fixed)."""
    if isinstance(value, str) and value.startswith("auto"):
        initial = value[len("auto_") :] if value.startswith("auto_") else "1.0"
        try:
            valid = value in ("auto", f"auto_{initial}") and float(initial) > 0
        except ValueError:
            valid = False
    else:
        valid = _is_number(value) and value > 0
    if not valid:
        raise ConfigurationError(
            f"{attribute.name}={value!r} is invalid: it must be 'auto' (learned, starting at 1.0), "
            f"'auto_<start>' such as 'auto_0.1', or a fixed number > 0"
        )


def target_entropy_setting(_, attribute, value):
    if value != "auto" and not _is_number(value):
        raise ConfigurationError(
            f"{attribute.name}={value!r} is invalid: it must be 'auto' (minus the number of action "
            f"dimensions) or a finite number"
        )


@attrs.define(kw_only=True)
class SACAlgorithmConfig(OffPolicyAlgorithmConfig):
    """Soft Actor-Critic (Haarnoja et al., 2018, in the Stable-Baselines3 / CleanRL form): twin Q
    critics with polyak-averaged targets, a squashed Gaussian policy trained through reparameterised
    samples, and an entropy temperature α learned towards ``target_entropy`` (``ent_coef`` "auto").

    ``ent_coef`` is ``"auto"`` (α learned, starting at 1.0), ``"auto_<start>"`` (learned from
    another start, e.g. ``"auto_0.1"``) or a number (α fixed). ``target_entropy`` ``"auto"`` is
    minus the number of action dimensions (of all heads). Log-probabilities are those of the
    actions rescaled into [-1, 1], as in Stable-Baselines3, so the target does not depend on the
    Box's units. Actor, critics and α have an Adam optimizer each, all with ``lr``.

    Defaults follow rl-baselines3-zoo's tuned Pendulum-v1 settings (``n_timesteps`` 20000,
    ``learning_rate`` 1e-3) and Stable-Baselines3's SAC defaults for the rest: ``buffer_size``
    1M, ``batch_size`` 256, ``gamma`` 0.99, ``tau`` 0.005, ``learning_starts`` 100,
    ``ent_coef`` "auto", one target update per gradient step and 256x256 networks. The zoo's
    ``train_freq`` 1 and ``gradient_steps`` 1 on one env are one gradient step per env step; with
    the runner's 4 envs, ``train_freq`` 1 (per env) and ``gradient_steps`` 4 are the same ratio.
    20k env steps: 20 epochs of ``epoch_length`` 250 iterations x 4 envs.
    """

    trainer_class: ClassVar[str] = "maze_sac.trainer:SAC"
    #: tuned settings per env, chosen with ``preset="zoo"`` (``--preset zoo``)
    presets: ClassVar[tuple[Preset, ...]] = PRESETS
    #: the model SAC learns with: a stochastic policy (squashed Gaussians for bounded Box heads)
    #: and twin Q(s, a) critics
    default_policy: ClassVar[str] = "probabilistic"
    default_critic: ClassVar[str] = "step_state_action"
    default_critic_kwargs: ClassVar[dict[str, Any]] = {"n_critics": 2}
    critic_kind: ClassVar[str] = "state_action"
    action_space_types: ClassVar[tuple[str, ...]] = ("Box",)
    other_names: ClassVar[dict[str, str]] = {
        "learning_rate": "lr",
        "policy_lr": "lr (one for actor, critics and temperature)",
        "q_lr": "lr (one for actor, critics and temperature)",
        "alpha": "ent_coef",
        "autotune": "ent_coef ('auto' learns it)",
    }
    default_env_steps: ClassVar[int] = 20_000  # the zoo's n_timesteps

    epoch_length: int = attrs.field(default=250, validator=positive_int)
    lr: float = attrs.field(default=1e-3, validator=positive_float)
    buffer_size: int = attrs.field(default=1_000_000, validator=positive_int)
    batch_size: int = attrs.field(default=256, validator=positive_int)
    train_freq: int = attrs.field(default=1, validator=positive_int)
    gradient_steps: int = attrs.field(default=4, validator=positive_int)
    tau: float = attrs.field(default=0.005, validator=positive_fraction)
    target_update_interval: int = attrs.field(default=1, validator=positive_int)
    ent_coef: Any = attrs.field(default="auto", validator=ent_coef_setting)
    target_entropy: Any = attrs.field(default="auto", validator=target_entropy_setting)

    @property
    def learns_ent_coef(self) -> bool:
        return isinstance(self.ent_coef, str)

    @property
    def initial_ent_coef(self) -> float:
        """α at the start: the fixed value, or where the learned one starts."""
        if not self.learns_ent_coef:
            return float(self.ent_coef)
        return float(self.ent_coef[len("auto_") :]) if self.ent_coef.startswith("auto_") else 1.0

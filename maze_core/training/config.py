"""Algorithm configuration: an attrs class per algorithm, validated when it is built.

Validation happens at construction so that a bad value fails before any env or network exists,
with an error naming the field and saying what is allowed.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, ClassVar

import attrs

from maze_core.errors import ConfigurationError

#: the version of the API algorithm plugins are written against (configs, trainers, rollouts); the
#: changelog for plugin authors (docs/plugin-changelog.md) says what each version changed
ALGORITHM_API_VERSION = 2


def _check(condition: bool, attribute: attrs.Attribute, value: Any, allowed: str) -> None:
    if not condition:
        raise ConfigurationError(f"{attribute.name}={value!r} is invalid: it must be {allowed}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool): inf and nan are never valid hyperparameters."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def non_negative_int(_, attribute, value):
    _check(_is_int(value) and value >= 0, attribute, value, "an integer >= 0")


def positive_int(_, attribute, value):
    _check(_is_int(value) and value > 0, attribute, value, "an integer > 0")


def non_negative_float(_, attribute, value):
    _check(_is_number(value) and value >= 0, attribute, value, "a finite number >= 0")


def positive_float(_, attribute, value):
    _check(_is_number(value) and value > 0, attribute, value, "a finite number > 0")


def unit_interval(_, attribute, value):
    _check(_is_number(value) and 0 <= value <= 1, attribute, value, "a finite number in [0, 1]")


def positive_fraction(_, attribute, value):
    _check(_is_number(value) and 0 < value <= 1, attribute, value, "a finite number in (0, 1]")


def device_name(_, attribute, value):
    from maze_core.training.devices import check_device_name

    check_device_name(value, field=attribute.name)


def evaluator_or_none(_, attribute, value):
    _check(
        value is None or callable(getattr(value, "evaluate", None)),
        attribute,
        value,
        "None (evaluate on a fresh env after each epoch) or a RolloutEvaluator",
    )


#: names other libraries give fields every algorithm has (besides each config's ``other_names``)
OTHER_NAMES = {
    "total_timesteps": "n_env_steps (maze train --steps)",
    "n_timesteps": "n_env_steps (maze train --steps)",
}


def env_steps_budget(instance, attribute, value):
    """None (``n_epochs``, else the algorithm's default) or an integer >= 0, not with ``n_epochs``."""
    if value is None:
        return
    non_negative_int(instance, attribute, value)
    if value and instance.n_epochs:
        raise ConfigurationError(
            f"n_epochs={instance.n_epochs} and n_env_steps={value} both set the training length: "
            "give one of them"
        )


@attrs.define(kw_only=True)
class AlgorithmConfig:
    """Fields every algorithm has. Subclasses add theirs and name their trainer.

    A run's length is ``n_epochs`` or ``n_env_steps`` (one of them; 0: no limit of that kind), and
    ``default_env_steps`` env steps when neither is given; with no limit at all, training runs
    until early stopping (``patience``), the target return or an interrupt (docs/training.md).
    ``rollout_evaluator`` None evaluates 8 deterministic episodes on a fresh env after each epoch.
    """

    #: "package.module:Class" of the trainer that runs this algorithm
    trainer_class: ClassVar[str]
    #: names other libraries give these settings -> what to write here (an error shows the hint)
    other_names: ClassVar[dict[str, str]] = {}
    #: the model the algorithm learns with unless the user names other composers: the policy and
    #: critic composers (registered names) and their arguments (e.g. ``{"n_critics": 2}``)
    default_policy: ClassVar[str] = "probabilistic"
    default_critic: ClassVar[str] = "step_state"
    default_policy_kwargs: ClassVar[dict[str, Any]] = {}
    default_critic_kwargs: ClassVar[dict[str, Any]] = {}
    #: the kind of critic it learns with: "state" (V(s)) or "state_action" (Q(s, a)); a critic
    #: composer of the other kind is refused before anything is built
    critic_kind: ClassVar[str] = "state"
    #: the gymnasium space classes (by name) its action heads may have, e.g. ``("Discrete",)``;
    #: None: any. An env with others is refused in one line naming the algorithms that fit
    action_space_types: ClassVar[tuple[str, ...] | None] = None
    #: tuned settings per env (``maze_core.presets.Preset``), chosen by name: ``preset="zoo"``
    presets: ClassVar[tuple] = ()
    #: ``{statistic: (limit, advice)}``: an epoch's mean above the limit prints one warning line
    #: with the advice (``maze_core.training.divergence``; e.g. PPO's ``approx_kl``)
    warning_limits: ClassVar[dict[str, tuple[float, str]]] = {}

    #: the run's length in env steps when neither ``n_epochs`` nor ``n_env_steps`` is given (0: none)
    default_env_steps: ClassVar[int] = 0

    n_epochs: int = attrs.field(default=0, validator=non_negative_int)
    n_env_steps: int | None = attrs.field(default=None, validator=env_steps_budget)
    device: str = attrs.field(default="cpu", validator=device_name)
    rollout_evaluator: Any = attrs.field(default=None, validator=evaluator_or_none)

    def __new__(cls, *args, **kwargs):
        fields = attrs.fields_dict(cls)
        for name in kwargs:
            hint = "" if name in fields else cls.hint_for(name)
            if hint:
                raise ConfigurationError(f"{cls.__name__} has no field {name!r}.{hint}")
        return super().__new__(cls)

    @classmethod
    def hint_for(cls, name: str) -> str:
        """' X calls it ...' for a name another library uses for one of our fields (or a near miss
        of one, which would otherwise be suggested the wrong field), else ''."""
        other_names = {**OTHER_NAMES, **cls.other_names}
        close = difflib.get_close_matches(name, list(other_names), n=1, cutoff=0.85)
        return f" {cls.__name__} calls it {other_names[close[0]]}." if close else ""

    def training_length(self) -> tuple[int, int]:
        """``(epochs, env steps)`` a run trains in total, 0 meaning no limit of that kind."""
        if self.n_env_steps is None and not self.n_epochs:
            return 0, self.default_env_steps
        return self.n_epochs, self.n_env_steps or 0

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the resolved config file (objects shown by their repr)."""
        return {field.name: _plain(getattr(self, field.name)) for field in attrs.fields(type(self))}


def optional(validator):
    """``validator`` for a field that may also be None (off), e.g.
    ``target_kl: float | None = attrs.field(default=None, validator=optional(positive_float))``."""

    def validate(instance, attribute, value):
        if value is not None:
            validator(instance, attribute, value)

    return validate


def boolean(_, attribute, value):
    _check(isinstance(value, bool), attribute, value, "true or false")


def one_of(*choices: str):
    """A validator accepting exactly the given strings."""

    def validate(_, attribute, value):
        _check(value in choices, attribute, value, "one of " + ", ".join(repr(c) for c in choices))

    return validate


#: learning-rate (and other) schedules: the value as a function of the fraction of training left
SCHEDULES = {"constant": lambda value, remaining: value, "linear": lambda value, remaining: value * remaining}


@attrs.define(kw_only=True)
class OnPolicyAlgorithmConfig(AlgorithmConfig):
    """The fields :class:`~maze_core.training.trainer.ActorCriticTrainer` reads; an on-policy
    algorithm's config derives from this and adds its loss coefficients. Defaults are the seed's A2C.

    One epoch is ``epoch_length`` updates, each on a fresh rollout of ``n_rollout_steps`` steps on
    every env; after each epoch the policy is evaluated and the best one kept. ``patience`` epochs
    without a better evaluation stop training (0: never); the first ``critic_burn_in_epochs``
    epochs train only the critic. ``gamma`` discounts per env step; ``gae_lambda`` 1.0 gives plain
    bootstrapped discounted returns. ``max_grad_norm`` 0 disables gradient clipping.
    ``optimizer`` is ``"adam"`` or ``"rmsprop"`` (``optimizer_eps`` is its epsilon);
    ``lr_schedule`` ``"linear"`` decays ``lr`` to 0 at the last epoch of ``train()`` (so it needs a
    number of epochs). ``normalize_advantages`` scales each batch's advantages to mean 0, std 1
    (a batch of one sample is left as it is).
    """

    epoch_length: int = attrs.field(default=25, validator=positive_int)
    patience: int = attrs.field(default=15, validator=non_negative_int)
    critic_burn_in_epochs: int = attrs.field(default=0, validator=non_negative_int)
    n_rollout_steps: int = attrs.field(default=100, validator=positive_int)
    lr: float = attrs.field(default=0.0005, validator=positive_float)
    gamma: float = attrs.field(default=0.98, validator=unit_interval)
    gae_lambda: float = attrs.field(default=1.0, validator=unit_interval)
    max_grad_norm: float = attrs.field(default=0.0, validator=non_negative_float)
    optimizer: str = attrs.field(default="adam", validator=one_of("adam", "rmsprop"))
    optimizer_eps: float = attrs.field(default=1e-8, validator=positive_float)
    lr_schedule: str = attrs.field(default="constant", validator=one_of(*SCHEDULES))
    normalize_advantages: bool = attrs.field(default=True, validator=boolean)


@attrs.define(kw_only=True)
class OffPolicyAlgorithmConfig(AlgorithmConfig):
    """The fields :class:`~maze_core.training.off_policy.OffPolicyTrainer` reads; an off-policy
    algorithm's config derives from this and adds its own (loss settings, exploration).

    One epoch is ``epoch_length`` iterations. An iteration collects ``train_freq`` steps on every
    env with the behaviour policy into a replay buffer of ``buffer_size`` transitions, then, once
    ``learning_starts`` env steps have been taken, makes ``gradient_steps`` updates, each on
    ``batch_size`` transitions sampled uniformly. ``tau`` is the polyak coefficient of soft target
    updates (1.0: hard copies), made every ``target_update_interval`` gradient steps. ``gamma``
    discounts per env step; ``max_grad_norm`` 0 disables gradient clipping. ``patience`` epochs
    without a better evaluation stop training (0: never). ``save_replay_buffer`` writes the buffer
    next to each checkpoint, so that ``--resume`` continues with it; without it a resumed run
    refills it for ``learning_starts`` steps before updating again.
    """

    epoch_length: int = attrs.field(default=1000, validator=positive_int)
    patience: int = attrs.field(default=0, validator=non_negative_int)
    lr: float = attrs.field(default=0.0003, validator=positive_float)
    gamma: float = attrs.field(default=0.99, validator=unit_interval)
    buffer_size: int = attrs.field(default=1_000_000, validator=positive_int)
    batch_size: int = attrs.field(default=256, validator=positive_int)
    learning_starts: int = attrs.field(default=100, validator=non_negative_int)
    train_freq: int = attrs.field(default=1, validator=positive_int)
    gradient_steps: int = attrs.field(default=1, validator=positive_int)
    tau: float = attrs.field(default=0.005, validator=positive_fraction)
    target_update_interval: int = attrs.field(default=1, validator=positive_int)
    max_grad_norm: float = attrs.field(default=0.0, validator=non_negative_float)
    save_replay_buffer: bool = attrs.field(default=False, validator=boolean)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)

"""Algorithm configuration: an attrs class per algorithm, validated when it is built.

Validation happens at construction so that a bad value fails before any env or network exists,
with an error naming the field and saying what is allowed.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from maze_core.errors import ConfigurationError


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


@attrs.define(kw_only=True)
class AlgorithmConfig:
    """Fields every algorithm has. Subclasses add theirs and name their trainer.

    ``n_epochs`` 0 trains until early stopping (``patience``) or an interrupt.
    ``rollout_evaluator`` None evaluates 8 deterministic episodes on a fresh env after each epoch.
    """

    #: "package.module:Class" of the trainer that runs this algorithm
    trainer_class: ClassVar[str]

    n_epochs: int = attrs.field(default=0, validator=non_negative_int)
    device: str = attrs.field(default="cpu", validator=device_name)
    rollout_evaluator: Any = attrs.field(default=None, validator=evaluator_or_none)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the resolved config file (objects shown by their repr)."""
        return {field.name: _plain(getattr(self, field.name)) for field in attrs.fields(type(self))}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)

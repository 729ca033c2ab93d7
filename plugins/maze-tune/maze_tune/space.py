"""The search space: which ``--set`` fields a study samples, and from which distribution.

A parameter is a field, as ``--set`` names it, and a distribution written ``KIND:ARGS``:
``algorithm.lr=loguniform:1e-4:1e-2`` on the command line (``--param``), ``algorithm.lr:
loguniform:1e-4:1e-2`` in a YAML (or JSON) file (``--space``), ``{"algorithm.lr":
"loguniform:1e-4:1e-2"}`` in Python. Each is checked before the first trial: the field must exist
and take the distribution's values (its bounds, its choices), as ``--set`` would type them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maze_core.errors import ConfigurationError

#: the distributions a parameter can be drawn from, as they are written
FORMS = {
    "loguniform": "loguniform:LOW:HIGH",
    "uniform": "uniform:LOW:HIGH",
    "int": "int:LOW:HIGH",
    "categorical": "categorical:A,B,...",
}
FORMS_TEXT = ", ".join(FORMS.values())


def split_param(text: str) -> tuple[str, str]:
    """``"algorithm.lr=loguniform:1e-4:1e-2"`` (``--param``) -> ``("algorithm.lr", "loguniform:...")``."""
    field, equals, spec = text.partition("=")
    if not equals or not field.strip() or not spec.strip():
        raise ConfigurationError(
            f"--param {text!r}: write it as SECTION.FIELD=DISTRIBUTION, e.g. "
            f"algorithm.lr=loguniform:1e-4:1e-2 (distributions: {FORMS_TEXT})"
        )
    return field.strip(), spec.strip()


def read_space_file(path: str | Path) -> dict[str, str]:
    """The ``{field: distribution}`` mapping of a YAML or JSON search-space file."""
    import yaml  # JSON is YAML too

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"search space {path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        problem = " ".join(str(error).split())
        raise ConfigurationError(f"search space {path} is not valid YAML or JSON: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(spec, str) for spec in data.values()):
        raise ConfigurationError(
            f"search space {path}: write one 'SECTION.FIELD: DISTRIBUTION' per line, e.g. "
            f"'algorithm.lr: loguniform:1e-4:1e-2' (distributions: {FORMS_TEXT})"
        )
    return {str(field): spec for field, spec in data.items()}


def search_space(params: Mapping[str, Any], names: Mapping[str, str]):
    """``{field: optuna distribution}`` for ``params`` (``{field: "KIND:ARGS"}``, or optuna
    distributions as they are), each checked against the field it sets.

    :param names: the registered name each section configures (as for
        :func:`maze_core.overrides.parse_overrides`).
    """
    from optuna.distributions import BaseDistribution

    if not params:
        raise ConfigurationError(
            "the search space is empty: give parameters to tune, e.g. --param "
            "algorithm.lr=loguniform:1e-4:1e-2 or --space FILE (distributions: " + FORMS_TEXT + ")"
        )
    space = {}
    for field, spec in params.items():
        if isinstance(spec, BaseDistribution):
            space[field] = spec
        elif isinstance(spec, str):
            space[field] = _distribution(field, spec)
        else:
            raise ConfigurationError(
                f"parameter {field!r}: give its distribution as text ({FORMS_TEXT}) or as an optuna "
                f"distribution, not {type(spec).__name__}"
            )
        for text in edge_values(space[field]):
            _typed(field, text, names, f"{field}={spec}")
    return space


def typed_params(params: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A trial's sampled ``{field: value}`` as the overrides of its runs, typed by their fields."""
    return {field: _typed(field, value_text(value), names, field) for field, value in params.items()}


def value_text(value: Any) -> str:
    """A sampled value as ``--set`` writes it (floats exactly: ``repr``)."""
    return repr(value) if isinstance(value, float) else str(value)


def describe(space: Mapping[str, Any]) -> dict[str, str]:
    """The space as JSON text per field (what a study records, to tell a rerun of it from another)."""
    from optuna.distributions import distribution_to_json

    return {field: distribution_to_json(distribution) for field, distribution in sorted(space.items())}


def _distribution(field: str, spec: str):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    kind, _, rest = spec.strip().partition(":")
    where = f"parameter '{field}={spec}'"
    if kind not in FORMS:
        raise ConfigurationError(f"{where}: unknown distribution {kind!r}; write one of {FORMS_TEXT}")
    if kind == "categorical":
        choices = _choices(rest, where)
        if not choices:
            raise ConfigurationError(f"{where}: give the choices, e.g. categorical:64,128,256")
        if len(set(choices)) < len(choices):
            raise ConfigurationError(f"{where}: a choice is given twice")
        return CategoricalDistribution(choices)
    bounds = rest.split(":")
    if len(bounds) != 2:
        raise ConfigurationError(f"{where}: write it as {FORMS[kind]}")
    number = int if kind == "int" else float
    try:
        low, high = (number(bound) for bound in bounds)
    except ValueError:
        kind_name = "integers" if kind == "int" else "numbers"
        raise ConfigurationError(f"{where}: LOW and HIGH must be {kind_name}, as in {FORMS[kind]}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigurationError(f"{where}: LOW must be below HIGH (both finite)")
    if kind == "loguniform" and low <= 0:
        raise ConfigurationError(f"{where}: LOW must be > 0 for loguniform (use uniform to include 0)")
    if kind == "int":
        return IntDistribution(low, high)
    return FloatDistribution(low, high, log=kind == "loguniform")


def _choices(text: str, where: str) -> list[str]:
    """``a,b,c``; or a JSON list (``[[64,64],[256,256]]``) where the choices have commas themselves.
    Choices are kept as text and typed by their field when a trial uses them."""
    text = text.strip()
    if not text.startswith("["):
        return [choice.strip() for choice in text.split(",") if choice.strip()]
    try:
        values = json.loads(text)
    except ValueError:
        raise ConfigurationError(f"{where}: the choices are not a valid JSON list") from None
    if not isinstance(values, list):
        raise ConfigurationError(f"{where}: the choices are not a JSON list")
    return [value if isinstance(value, str) else json.dumps(value) for value in values]


def edge_values(distribution) -> list[str]:
    """The values that show whether a field takes a distribution's values: its bounds or choices."""
    choices = getattr(distribution, "choices", None)
    if choices is not None:
        return [value_text(choice) for choice in choices]
    return [value_text(distribution.low), value_text(distribution.high)]


def _typed(field: str, text: str, names: Mapping[str, str], where: str) -> Any:
    from maze_core.overrides import parse_overrides

    try:
        return parse_overrides([f"{field}={text}"], names)[field]
    except ConfigurationError as error:
        message = str(error).removeprefix(f"override '{field}={text}': ")
        raise ConfigurationError(f"parameter '{where}': {message}") from None


def field_names(names: Mapping[str, str | None]) -> dict[str, str]:
    """The registered name each ``--set`` section configures, with the algorithm's policy and critic
    where none is given (what :func:`maze_core.overrides.parse_overrides` types fields with)."""
    from maze_core import plugins
    from maze_core.run_setup import composer_defaults

    defaults = composer_defaults(plugins.load("algorithm", names["algorithm"]))
    policy, critic = names["policy"] or defaults.policy, names["critic"] or defaults.critic
    return {**names, "policy": policy, "critic": critic}

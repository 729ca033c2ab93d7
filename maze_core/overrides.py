"""Overrides written as text (``maze train --set algorithm.lr=1e-3``), converted to typed values.

Each value is converted to the type its field declares: an algorithm config's attrs field, or a
parameter of the runner's or composer's constructor. So ``algorithm.lr=1e-3`` becomes a float and
``runner.n_envs=8`` an int, while ``algorithm.lr=abc`` or an unknown field fails at once, with a
message naming the field, instead of deep inside training.
"""

from __future__ import annotations

import difflib
import inspect
import json
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Union

import attrs

from maze_core.errors import ConfigurationError

#: composer arguments that RunContext fills in from the env, so an override cannot set them
FROM_THE_ENV = frozenset({"action_spaces_dict", "observation_spaces_dict", "agent_counts_dict"})

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "null")


def parse_overrides(assignments: Iterable[str], names: Mapping[str, str]) -> dict[str, Any]:
    """``["algorithm.lr=1e-3"]`` -> ``{"algorithm.lr": 0.001}``, typed by the fields they set.

    :param assignments: ``<section>.<field>=<value>`` strings; a later one for the same field wins.
    :param names: the registered name each section configures, e.g. ``{"algorithm": "a2c",
        "runner": "dev"}``; a section's class is loaded only when an assignment uses it. With
        ``policy`` or ``critic``, the ``model`` section (both default networks' size) is allowed.
    """
    from maze_core import plugins
    from maze_core.agent.network_size import DefaultNetworks

    sections = {**names, "model": None} if {"policy", "critic"} & set(names) else dict(names)
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        path, equals, text = assignment.partition("=")
        section, _, name = path.strip().partition(".")
        if not equals or section not in sections or not name:
            raise ConfigurationError(
                f"override {assignment!r}: write it as <section>.<field>=<value>, "
                f"with section one of {', '.join(sections)}"
            )
        target = DefaultNetworks if section == "model" else plugins.load(section, names[section])
        fields = settable_fields(target)
        check_field(assignment, target, name, fields)
        try:
            overrides[f"{section}.{name}"] = convert(text, fields[name])
        except ValueError as error:
            raise ConfigurationError(f"override {assignment!r}: {target.__name__}.{name} {error}") from None
    return overrides


def check_field(override: str, target: type, name: str, fields: Mapping[str, Any] | None = None) -> None:
    """Raise the error for an override (``override``, as written) of a field ``target`` lacks."""
    fields = settable_fields(target) if fields is None else fields
    if name not in fields:
        close = difflib.get_close_matches(name, list(fields), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        hint = getattr(target, "hint_for", lambda _: "")(name) or hint
        raise ConfigurationError(
            f"override {override!r}: {target.__name__} has no field {name!r}.{hint} "
            f"Fields: {', '.join(sorted(fields))}."
        )


def settable_fields(cls: type) -> dict[str, Any]:
    """The fields an override can set on ``cls``, with their types (``Any`` where none is declared).

    For an attrs class its init fields; otherwise the keyword parameters of its constructor,
    following ``**kwargs`` up to the base classes' constructors.
    """
    if attrs.has(cls):
        try:
            attrs.resolve_types(cls)
        except Exception:  # an annotation that cannot be resolved: that field takes any value
            pass
        return {field.alias: _resolved(field.type) for field in attrs.fields(cls) if field.init}
    fields: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            hints = typing.get_type_hints(init)
        except Exception:
            hints = {}
        parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
        for parameter in parameters:
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                fields.setdefault(parameter.name, hints.get(parameter.name, Any))
        if not any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
            break
    return {name: kind for name, kind in fields.items() if name not in FROM_THE_ENV}


def convert(text: str, annotation: Any) -> Any:
    """``text`` as a value of type ``annotation``; a ``ValueError`` saying what was expected otherwise.

    ``bool`` takes true/false (yes/no, on/off, 1/0), ``X | None`` also ``none``; lists and dicts are
    written as JSON; an untyped field takes a JSON value, else the text as a string.
    """
    text = text.strip()
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return _json_or_text(text)
    if origin is Union or origin is types.UnionType:
        if type(None) in args and text.lower() in _NONE:
            return None
        for option in args:
            try:
                return convert(text, option)
            except ValueError:
                continue
        raise ValueError(f"must be {_describe(annotation)}, got {text!r}")
    if origin is Literal:
        for choice in args:
            if str(choice) == text:
                return choice
        raise ValueError(f"must be {_describe(annotation)}, got {text!r}")
    if annotation is type(None) and text.lower() in _NONE:
        return None
    if annotation is bool and text.lower() in _TRUE + _FALSE:
        return text.lower() in _TRUE
    if annotation in (int, float, str):
        try:
            return annotation(text)
        except ValueError:
            pass
    container = origin or annotation
    if container in (list, tuple, Sequence, dict, Mapping):
        value = _json_or_text(text)
        if isinstance(value, dict if container in (dict, Mapping) else list):
            return tuple(value) if container is tuple else value
    raise ValueError(f"must be {_describe(annotation)}, got {text!r}")


def _json_or_text(text: str) -> Any:
    if text.lower() in _NONE:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _describe(annotation: Any) -> str:
    """``int | None`` -> "an integer or none"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Union or origin is types.UnionType:
        return " or ".join(_describe(arg) for arg in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(str(arg)) for arg in args)
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "none",
    }
    if annotation in names:
        return names[annotation]
    container = origin or annotation
    if container in (list, tuple, Sequence):
        return "a JSON list"
    if container in (dict, Mapping):
        return "a JSON object"
    name = getattr(annotation, "__name__", str(annotation))
    return f"a {name} (not possible on the command line; set it in Python)"


def _resolved(annotation: Any) -> Any:
    """A field type; a string annotation attrs could not resolve becomes ``Any``."""
    if annotation is None or isinstance(annotation, str):
        return Any
    return annotation

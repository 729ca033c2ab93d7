"""A run's ``config.json``: what it records of the run, and the RunContext arguments a run is
rebuilt from, checked as untrusted input (see docs/run-directories.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from maze_core import plugins
from maze_core import run_dir as run_files
from maze_core.errors import ConfigurationError, UnknownNameError
from maze_core.run_dir import CONFIG_FILE
from maze_core.run_setup import check_target_return, checked_seed

_OBJECT = "__object__"


def record_arguments(value: Any) -> Any:
    """``value`` for config.json: plain values as they are, anything else as ``{"__object__": name}``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [record_arguments(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: record_arguments(item) for key, item in value.items()}
    described = value if hasattr(value, "__qualname__") else type(value)
    return {_OBJECT: f"{described.__module__}.{described.__qualname__}"}


def python_objects(recorded: Any, path: str = "") -> list[str]:
    """``path=name`` of every object :func:`record_arguments` could not write as plain values."""
    if isinstance(recorded, dict):
        if set(recorded) == {_OBJECT}:
            return [f"{path}={recorded[_OBJECT]}"]
        return [
            found
            for key, item in recorded.items()
            for found in python_objects(item, f"{path}.{key}".lstrip("."))
        ]
    if isinstance(recorded, list):
        return [
            found for index, item in enumerate(recorded) for found in python_objects(item, f"{path}[{index}]")
        ]
    return []


#: the types of the recorded arguments from_run_dir passes on
_ARGUMENT_TYPES = {
    "env": (str,),
    "algorithm": (str,),
    "policy": (str, type(None)),
    "critic": (str, type(None)),
    "runner": (str,),
    "wrappers": (list, dict, type(None)),
    "overrides": (dict,),
    "device": (str, type(None)),
}


def checked_arguments(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """The recorded RunContext arguments of ``config``, with a one-line error naming a bad field."""
    arguments = config.get("arguments")
    if not isinstance(arguments, dict):
        raise ConfigurationError(f"{path} does not record the run's arguments (an older Maze wrote it)")
    for key, value in arguments.items():
        expected = _ARGUMENT_TYPES.get(key)
        if expected is None:
            raise ConfigurationError(f"{path}: arguments.{key} is not a RunContext argument")
        if not isinstance(value, expected) and python_objects(value) == []:
            names = " or ".join("null" if kind is type(None) else kind.__name__ for kind in expected)
            raise ConfigurationError(f"{path}: arguments.{key} must be {names}, got {value!r}")
    if "env" not in arguments:
        raise ConfigurationError(f"{path}: arguments.env is missing")
    try:
        checked_seed(config.get("seed"))
        check_target_return(config.get("target_return"))
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: {error}") from None
    return dict(arguments)


def load_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of the run in ``run_dir``, with a clear error when there is none."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigurationError(f"run directory {str(run_dir)!r} does not exist")
    path = run_dir / CONFIG_FILE
    if not os.path.lexists(path):
        raise ConfigurationError(f"{str(run_dir)!r} is not a Maze run directory: it has no {CONFIG_FILE}")
    config = run_files.read_json(path)
    if not isinstance(config, dict):
        raise ConfigurationError(f"{path} does not hold a run configuration (a JSON object)")
    return config


def withheld_machine_options(
    runner: Any, recorded: dict[str, Any], given: dict[str, Any] | None
) -> dict[str, Any]:
    """The recorded overrides of ``runner``'s machine options (its address, ...) that the user did
    not give again: a run directory does not decide where Maze connects."""
    from maze_core.errors import MazeError

    try:
        options = plugins.load("runner", runner).machine_options if isinstance(runner, str) else ()
    except MazeError:
        return {}  # an unknown runner fails with its own error when the RunContext is built
    keys = {f"runner.{option}" for option in options} - set(given or {})
    return {key: value for key, value in recorded.items() if key in keys and value is not None}


def missing_plugins(config: dict[str, Any]) -> list[str]:
    """``package==version`` of each plugin recorded in a run's config that is not installed now."""
    recorded = config.get("plugins")
    if not isinstance(recorded, dict):
        return []
    installed = {_normalized(info.distribution) for info in plugins.plugins()}
    return [
        f"{package}=={version}" if version else str(package)
        for package, version in recorded.items()
        if _normalized(str(package)) not in installed
    ]


def _normalized(package: str) -> str:
    return package.lower().replace("_", "-").replace(".", "-")


def rebuild_arguments(
    config: dict[str, Any],
    run_dir: Path,
    overrides: dict[str, Any] | None,
    device: str | None,
    trusted: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The RunContext arguments the run in ``run_dir`` is rebuilt with, and the machine options
    its ``config.json`` records that are left out (unless ``trusted``; see
    :attr:`~maze_core.runners.Runner.machine_options`).

    :param overrides: the caller's changes to the recorded overrides.
    :param device: the caller's device, or None for the run's.
    """
    arguments = checked_arguments(config, run_dir / CONFIG_FILE)
    objects = python_objects(arguments)
    if objects:
        raise ConfigurationError(
            f"the run in {run_dir} was set up with Python objects ({', '.join(objects)}), which "
            f"{CONFIG_FILE} cannot rebuild; create its RunContext in Python again, with "
            f"run_dir={str(run_dir)!r} and resume=True"
        )
    if not os.path.lexists(run_dir / run_files.CHECKPOINT_FILE):
        raise ConfigurationError(f"the run in {run_dir} has not finished an epoch yet (no checkpoint.pt)")
    recorded = arguments.get("overrides") or {}
    withheld = {} if trusted else withheld_machine_options(arguments.get("runner"), recorded, overrides)
    recorded = {key: value for key, value in recorded.items() if key not in withheld}
    arguments["overrides"] = {**recorded, **(overrides or {})}
    if device is not None:
        arguments["device"] = device
    return arguments, withheld


def with_missing_plugins(error: UnknownNameError, config: dict[str, Any], run_dir: Path) -> UnknownNameError:
    """``error`` (a name the run uses is unknown) plus the plugins the run recorded that are not
    installed now, if any."""
    missing = missing_plugins(config)
    if not missing:
        return error
    return UnknownNameError(
        f"{error} The run in {run_dir} was trained with plugins that are not installed now "
        f"(its {CONFIG_FILE} records them): {', '.join(missing)}. Install them "
        f"(pip install {' '.join(missing)}) to use the run."
    )

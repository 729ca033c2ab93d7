"""Exceptions raised by Maze. Every error a user can cause derives from :class:`MazeError`."""

from __future__ import annotations

from typing import Any


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a value quoted in an error stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class MazeError(Exception):
    """Base class of all Maze errors."""


class ConfigurationError(MazeError, ValueError):
    """A value given by the user is invalid (a config field, an override, an argument)."""


class UnknownNameError(MazeError, LookupError):
    """A name (of an env, algorithm, policy, ...) is not registered by any installed plugin."""


class PluginError(MazeError):
    """A plugin failed to load, raised in a hook, or clashes with another plugin."""


class EnvWorkerError(MazeError, RuntimeError):
    """An environment (in-process or in a worker process) raised or died."""


class TrainingError(MazeError, RuntimeError):
    """Training cannot go on (for example a NaN loss)."""


class RunDirectoryError(MazeError):
    """A run directory cannot be used: in use, damaged, not writable, or holding a link."""


class Terminated(KeyboardInterrupt):
    """SIGTERM during training: handled like Ctrl-C (the checkpoint is kept), exit status 143."""


class MazeWarning(UserWarning):
    """Something works but is likely not what the user wants (the CLI prints it as one line)."""

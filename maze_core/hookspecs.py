"""Hook specifications: what a Maze plugin can provide.

A plugin is a module (named by an entry point in the group ``maze.plugins``) with functions
decorated by :data:`hookimpl`. Each hook receives ``register(name, target)``; ``target`` is a
``"package.module:Attr"`` string, imported only when the name is first used, or the object itself.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("maze")
hookimpl = pluggy.HookimplMarker("maze")


@hookspec
def register_envs(register):
    """Register environment factories: zero-argument callables returning a MazeEnv or gymnasium env."""


@hookspec
def register_algorithms(register):
    """Register algorithms: ``AlgorithmConfig`` subclasses (each names its trainer class)."""


@hookspec
def register_policies(register):
    """Register policy composers (``BasePolicyComposer`` subclasses)."""


@hookspec
def register_critics(register):
    """Register critic composers (``CriticComposerInterface`` subclasses)."""


@hookspec
def register_runners(register):
    """Register runners (``Runner`` subclasses)."""


@hookspec
def register_distributions(register):
    """Register probability distributions (``ProbabilityDistribution`` subclasses)."""


@hookspec
def register_devices(register):
    """Register compute devices (``Device`` subclasses), e.g. ``cpu`` or ``cuda``."""


@hookspec
def register_trackers(register):
    """Register experiment trackers: :class:`~maze_core.training.callbacks.Callback` subclasses
    built without arguments (they read their settings from the environment), selected with
    ``maze train --tracker NAME`` or ``RunContext.train(callbacks=[NAME])``."""


@hookspec
def register_commands(register):
    """Register ``maze`` subcommands: functions typer turns into commands (the docstring is the help,
    annotated parameters the options). The target's module is imported by ``maze --help``, so it
    must import nothing heavy; a built-in command's name cannot be taken."""

"""Fails on import, like a plugin whose dependency is not installed."""

import maze_test_missing_dependency  # noqa: F401

from maze_core import hookimpl


@hookimpl
def register_envs(register):
    register("test-broken-env", "maze_test_broken.envs:make")

"""Registers algorithm "ppo", which maze-ppo registers too."""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("ppo", "maze_test_ppo.config:QuickPPOConfig")

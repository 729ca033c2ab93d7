"""Registers algorithm "old-ppo"."""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("old-ppo", "maze_test_old_ppo.config:PPOAlgorithmConfig")

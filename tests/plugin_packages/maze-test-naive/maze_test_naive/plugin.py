"""Registers algorithm "naive-pg"."""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("naive-pg", "maze_test_naive.algorithm:NaivePGConfig")

"""Hook implementations of maze-tune: names and import strings only."""

from maze_core import hookimpl


@hookimpl
def register_commands(register):
    register("tune", "maze_tune.cli:tune")

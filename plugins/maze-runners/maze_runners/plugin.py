"""Hook implementations of the ``maze-runners`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_runners(register):
    register("dev", "maze_runners.runners:DevRunner")
    register("local", "maze_runners.runners:LocalRunner")

"""Hook implementations of the ``maze-a2c`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("a2c", "maze_a2c.config:A2CAlgorithmConfig")

"""Hook implementations of the ``maze-sac`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("sac", "maze_sac.config:SACAlgorithmConfig")

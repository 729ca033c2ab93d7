"""Hook implementations of the ``maze-dqn`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("dqn", "maze_dqn.config:DQNAlgorithmConfig")

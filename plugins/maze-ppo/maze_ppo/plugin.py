"""Hook implementations of the ``maze-ppo`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_algorithms(register):
    register("ppo", "maze_ppo.config:PPOAlgorithmConfig")

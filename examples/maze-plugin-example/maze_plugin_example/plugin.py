"""Hook implementations (entry point group ``maze.plugins``): names and import strings only.

Maze imports a target when its name is first used, so listing plugins imports nothing heavy.
Names are unique per kind across all installed plugins: rename them when you copy this template.
"""

from maze_core import hookimpl


@hookimpl
def register_envs(register):
    register("example-corridor", "maze_plugin_example.envs:CorridorEnv")


@hookimpl
def register_algorithms(register):
    register("reinforce", "maze_plugin_example.config:ReinforceAlgorithmConfig")

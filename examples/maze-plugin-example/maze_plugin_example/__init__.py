"""Template of a third-party Maze plugin: the ``example-corridor`` env and the ``reinforce`` algorithm.

Public names load lazily: ``maze plugins list`` imports this package (to reach ``plugin.py``), and
it must not pay for torch.
"""

from maze_core.lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["CorridorEnv", "Reinforce", "ReinforceAlgorithmConfig"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CorridorEnv": "maze_plugin_example.envs",
        "ReinforceAlgorithmConfig": "maze_plugin_example.config",
        "Reinforce": "maze_plugin_example.trainer",
    },
)

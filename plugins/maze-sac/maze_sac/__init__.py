"""Maze plugin: the SAC algorithm (``SACAlgorithmConfig``, ``SAC``)."""

from maze_core.lazy import lazy_exports

__all__ = ["SACAlgorithmConfig", "SAC"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"SACAlgorithmConfig": "maze_sac.config", "SAC": "maze_sac.trainer"}
)

"""Maze plugin: the A2C algorithm (``A2CAlgorithmConfig``, ``A2C``)."""

from maze_core.lazy import lazy_exports

__all__ = ["A2CAlgorithmConfig", "A2C"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"A2CAlgorithmConfig": "maze_a2c.config", "A2C": "maze_a2c.trainer"}
)

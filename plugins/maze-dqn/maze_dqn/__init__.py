"""Maze plugin: the DQN algorithm (``DQNAlgorithmConfig``, ``DQN``)."""

from maze_core.lazy import lazy_exports

__all__ = ["DQNAlgorithmConfig", "DQN"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"DQNAlgorithmConfig": "maze_dqn.config", "DQN": "maze_dqn.trainer"}
)

"""Maze plugin: the PPO algorithm (``PPOAlgorithmConfig``, ``PPO``)."""

from maze_core.lazy import lazy_exports

__all__ = ["PPOAlgorithmConfig", "PPO"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"PPOAlgorithmConfig": "maze_ppo.config", "PPO": "maze_ppo.trainer"}
)

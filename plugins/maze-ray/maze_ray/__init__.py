"""Maze plugin: the ``ray`` runner, whose rollout workers are Ray actors (on one machine or a cluster)."""

from maze_core.lazy import lazy_exports

__all__ = ["RayRunner", "RolloutWorker"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"RayRunner": "maze_ray.runner", "RolloutWorker": "maze_ray.worker"}
)

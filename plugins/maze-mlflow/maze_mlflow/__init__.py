"""Maze plugin: the MLflow experiment tracker (``MlflowTracker``, tracker name ``mlflow``)."""

from maze_core.lazy import lazy_exports

__all__ = ["MlflowTracker"]
__getattr__, __dir__ = lazy_exports(__name__, {"MlflowTracker": "maze_mlflow.tracker"})

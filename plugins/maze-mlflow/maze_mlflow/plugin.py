"""Hook implementations of the ``maze-mlflow`` plugin (entry point group ``maze.plugins``).

The target is an import string, so loading this module does not import mlflow.
"""

from maze_core import hookimpl


@hookimpl
def register_trackers(register):
    register("mlflow", "maze_mlflow.tracker:MlflowTracker")

"""Hook implementations of the ``maze-wandb`` plugin (entry point group ``maze.plugins``).

The target is an import string, so loading this module does not import wandb.
"""

from maze_core import hookimpl


@hookimpl
def register_trackers(register):
    register("wandb", "maze_wandb.tracker:WandbTracker")

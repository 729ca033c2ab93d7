"""Maze plugin: the Weights & Biases experiment tracker (``WandbTracker``, tracker name ``wandb``)."""

from maze_core.lazy import lazy_exports

__all__ = ["WandbTracker"]
__getattr__, __dir__ = lazy_exports(__name__, {"WandbTracker": "maze_wandb.tracker"})

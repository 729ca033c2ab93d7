"""Maze plugin: hyperparameter search with Optuna (``maze tune``, :func:`tune`).

Importing the package stays light (``maze --help`` imports it): the study code, Optuna and torch
load on first use of :func:`tune`.
"""

from maze_core.lazy import lazy_exports

__all__ = ["TuneResult", "tune"]
__getattr__, __dir__ = lazy_exports(__name__, {"TuneResult": "maze_tune.results", "tune": "maze_tune.study"})

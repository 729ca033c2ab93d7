"""Maze plugin: critic composers (``SharedStateCriticComposer``, ``StepStateCriticComposer``,
``SharedStateActionCriticComposer``, ``StepStateActionCriticComposer``).

Names load lazily (PEP 562), so importing this package (as ``maze plugins list`` does through
``maze_critics.plugin``) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maze_core.lazy import lazy_exports

__all__ = [
    "SharedStateActionCriticComposer",
    "SharedStateCriticComposer",
    "StepStateActionCriticComposer",
    "StepStateCriticComposer",
]
__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, "maze_critics.composers"))

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from maze_critics.composers import (  # noqa: F401
        SharedStateActionCriticComposer,
        SharedStateCriticComposer,
        StepStateActionCriticComposer,
        StepStateCriticComposer,
    )

"""Maze plugin: policy composers (``ProbabilisticPolicyComposer``, ``QGreedyPolicyComposer``).

Names load lazily (PEP 562), so importing this package (as ``maze plugins list`` does through
``maze_policies.plugin``) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maze_core.lazy import lazy_exports

__all__ = ["ProbabilisticPolicyComposer", "QGreedyPolicyComposer"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ProbabilisticPolicyComposer": "maze_policies.probabilistic",
        "QGreedyPolicyComposer": "maze_policies.q_greedy",
    },
)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from maze_policies.probabilistic import ProbabilisticPolicyComposer  # noqa: F401
    from maze_policies.q_greedy import QGreedyPolicyComposer  # noqa: F401

"""Maze kernel: interfaces, registry and plumbing of the Maze reinforcement-learning framework.

Public names are imported lazily, so ``import maze_core`` (and the ``maze`` CLI) stays light and
does not import torch until a torch-based name is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maze_core.hookspecs import hookimpl  # noqa: F401  (re-exported for plugins)
from maze_core.lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY_NAMES = {
    "ActorID": "maze_core.env.structured_env",
    "StructuredEnv": "maze_core.env.structured_env",
    "MazeEnv": "maze_core.env.structured_env",
    "GymMazeEnv": "maze_core.env.gym_env",
    "Wrapper": "maze_core.env.wrappers",
    "LogStatsWrapper": "maze_core.env.wrappers",
    "SequentialVectorEnv": "maze_core.env.vector",
    "SubprocVectorEnv": "maze_core.env.vector",
    "PerceptionBlock": "maze_core.perception",
    "ShapeNormalizationBlock": "maze_core.perception",
    "TorchModelBlock": "maze_core.perception",
    "DistributionMapper": "maze_core.distributions",
    "TorchPolicy": "maze_core.agent",
    "TorchStateCritic": "maze_core.agent",
    "TorchActorCritic": "maze_core.agent",
    "BasePolicyComposer": "maze_core.agent",
    "CriticComposerInterface": "maze_core.agent",
    "AlgorithmConfig": "maze_core.training",
    "Trainer": "maze_core.training",
    "RolloutEvaluator": "maze_core.training",
    "BestModelSelection": "maze_core.training",
    "setup_logging": "maze_core.training",
    "Runner": "maze_core.runners",
    "RunContext": "maze_core.run_context",
    "RunMode": "maze_core.run_context",
    "TrainingSummary": "maze_core.run_context",
}
_LAZY_MODULES = {"run_context", "env", "perception", "distributions", "agent", "training", "plugins"}

__all__ = sorted([*_LAZY_NAMES, *_LAZY_MODULES, "hookimpl", "__version__"])
__getattr__, __dir__ = lazy_exports(
    __name__, {**_LAZY_NAMES, **{name: f"maze_core.{name}" for name in _LAZY_MODULES}}
)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from maze_core.agent import (  # noqa: F401
        BasePolicyComposer,
        CriticComposerInterface,
        TorchActorCritic,
        TorchPolicy,
        TorchStateCritic,
    )
    from maze_core.distributions import DistributionMapper  # noqa: F401
    from maze_core.env.gym_env import GymMazeEnv  # noqa: F401
    from maze_core.env.structured_env import ActorID, MazeEnv, StructuredEnv  # noqa: F401
    from maze_core.env.vector import SequentialVectorEnv, SubprocVectorEnv  # noqa: F401
    from maze_core.env.wrappers import LogStatsWrapper, Wrapper  # noqa: F401
    from maze_core.perception import PerceptionBlock, ShapeNormalizationBlock, TorchModelBlock  # noqa: F401
    from maze_core.run_context import RunContext, RunMode, TrainingSummary  # noqa: F401
    from maze_core.runners import Runner  # noqa: F401
    from maze_core.training import (  # noqa: F401
        AlgorithmConfig,
        BestModelSelection,
        RolloutEvaluator,
        Trainer,
        setup_logging,
    )

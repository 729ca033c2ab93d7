"""The environment layer: Maze envs, gymnasium conversion, wrappers, statistics and vector envs.

See ``docs/environments.md`` for the user guide.
"""

from maze_core.env.action_masks import ActionMasksAsObservation
from maze_core.env.gym_adapter import MazeToGymEnv
from maze_core.env.gym_env import GymMazeEnv
from maze_core.env.log_stats import LogStatsEnv
from maze_core.env.names import check_env_factory, resolve_env
from maze_core.env.native import NativeVectorEnv, VectorEnvFactory
from maze_core.env.normalization import NormalizedVectorEnv
from maze_core.env.spaces import check_dict_space, dict_space, float32_space, to_float32
from maze_core.env.structured_env import ActorID, MazeEnv, StepKey, StructuredEnv
from maze_core.env.vector import SequentialVectorEnv, SubprocVectorEnv, VectorEnv
from maze_core.env.wrappers import (
    ActionWrapper,
    LogStatsWrapper,
    ObservationWrapper,
    RewardWrapper,
    Wrapper,
)

__all__ = [
    "ActionMasksAsObservation",
    "ActionWrapper",
    "ActorID",
    "GymMazeEnv",
    "LogStatsEnv",
    "LogStatsWrapper",
    "MazeEnv",
    "MazeToGymEnv",
    "NativeVectorEnv",
    "NormalizedVectorEnv",
    "ObservationWrapper",
    "RewardWrapper",
    "SequentialVectorEnv",
    "StepKey",
    "StructuredEnv",
    "SubprocVectorEnv",
    "VectorEnv",
    "VectorEnvFactory",
    "Wrapper",
    "check_dict_space",
    "check_env_factory",
    "dict_space",
    "float32_space",
    "resolve_env",
    "to_float32",
]

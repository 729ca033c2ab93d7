"""maze-ppo's PPO with short epochs: another algorithm under the same name."""

import attrs
from maze_ppo import PPOAlgorithmConfig

from maze_core.training.config import positive_int


@attrs.define(kw_only=True)
class QuickPPOConfig(PPOAlgorithmConfig):
    epoch_length: int = attrs.field(default=2, validator=positive_int)
    n_rollout_steps: int = attrs.field(default=16, validator=positive_int)

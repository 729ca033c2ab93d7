"""DQN's settings: the off-policy trainer's fields plus exploration and the loss."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from maze_core.presets import Preset
from maze_core.training.config import (
    OffPolicyAlgorithmConfig,
    boolean,
    positive_float,
    positive_fraction,
    positive_int,
    unit_interval,
)
from maze_dqn.presets import PRESETS


@attrs.define(kw_only=True)
class DQNAlgorithmConfig(OffPolicyAlgorithmConfig):
    """Deep Q-learning (Mnih et al., 2015) with double-DQN targets (van Hasselt et al., 2016) on by
    default, a Huber loss and a target network copied every ``target_update_interval`` gradient
    steps (``tau`` 1.0: hard copies). The behaviour policy is ε-greedy: ε falls linearly from
    ``exploration_initial_eps`` to ``exploration_final_eps`` over the first
    ``exploration_fraction`` of the planned env steps (so training needs a training length).

    Defaults follow rl-baselines3-zoo's tuned CartPole-v1 settings (50k env steps, in epochs of
    ``epoch_length`` 20 iterations x ``train_freq`` 64 steps x the runner's 4 envs, 256 steps per
    iteration as the zoo's ``train_freq=256`` on one env), with ``gradient_steps`` 128, ``lr``
    2.3e-3, ``batch_size`` 64, ``buffer_size`` 100k, ``learning_starts`` 1000, ``gamma`` 0.99,
    ε 1.0 -> 0.04 over 16% and 256x256 Q networks. The zoo's ``target_update_interval`` 10 counts
    env steps: with 256 steps between training rounds, the target is the online network at the
    start of every round; here it counts gradient steps, and 128 (once per round) does the same.
    """

    trainer_class: ClassVar[str] = "maze_dqn.trainer:DQN"
    #: tuned settings per env, chosen with ``preset="zoo"`` (``--preset zoo``)
    presets: ClassVar[tuple[Preset, ...]] = PRESETS
    #: the model DQN learns with: a Q network over all actions, acting greedily on it
    default_policy: ClassVar[str] = "q_greedy"
    default_critic: ClassVar[str] = "step_state_action"
    default_critic_kwargs: ClassVar[dict[str, Any]] = {"n_critics": 1}
    critic_kind: ClassVar[str] = "state_action"
    action_space_types: ClassVar[tuple[str, ...]] = ("Discrete",)
    other_names: ClassVar[dict[str, str]] = {
        "learning_rate": "lr",
        "exploration_final_epsilon": "exploration_final_eps",
    }
    default_env_steps: ClassVar[int] = 50_000  # the zoo's n_timesteps

    epoch_length: int = attrs.field(default=20, validator=positive_int)
    lr: float = attrs.field(default=2.3e-3, validator=positive_float)
    buffer_size: int = attrs.field(default=100_000, validator=positive_int)
    batch_size: int = attrs.field(default=64, validator=positive_int)
    learning_starts: int = attrs.field(default=1000, validator=positive_int)
    train_freq: int = attrs.field(default=64, validator=positive_int)
    gradient_steps: int = attrs.field(default=128, validator=positive_int)
    tau: float = attrs.field(default=1.0, validator=positive_fraction)
    target_update_interval: int = attrs.field(default=128, validator=positive_int)
    max_grad_norm: float = attrs.field(default=10.0, validator=positive_float)
    exploration_initial_eps: float = attrs.field(default=1.0, validator=unit_interval)
    exploration_final_eps: float = attrs.field(default=0.04, validator=unit_interval)
    exploration_fraction: float = attrs.field(default=0.16, validator=positive_fraction)
    double_q: bool = attrs.field(default=True, validator=boolean)

"""Agents: policies, critics (state and state-action), the actor-critic pair, and the composer
interfaces that build them."""

from maze_core.agent.actor_critic import TorchActorCritic
from maze_core.agent.composers import BasePolicyComposer, BaseStateCriticComposer, CriticComposerInterface
from maze_core.agent.critics import TorchSharedStateCritic, TorchStateCritic, TorchStepStateCritic
from maze_core.agent.memory import RecurrentMemory
from maze_core.agent.policy import TorchPolicy
from maze_core.agent.q_critics import (
    BaseStateActionCriticComposer,
    QActionSpace,
    TorchSharedStateActionCritic,
    TorchStateActionCritic,
    TorchStepStateActionCritic,
)
from maze_core.agent.q_policy import QGreedyPolicy
from maze_core.agent.torch_model import TorchModel

__all__ = [
    "BasePolicyComposer",
    "BaseStateActionCriticComposer",
    "BaseStateCriticComposer",
    "CriticComposerInterface",
    "QActionSpace",
    "QGreedyPolicy",
    "RecurrentMemory",
    "TorchActorCritic",
    "TorchModel",
    "TorchPolicy",
    "TorchSharedStateActionCritic",
    "TorchSharedStateCritic",
    "TorchStateActionCritic",
    "TorchStateCritic",
    "TorchStepStateActionCritic",
    "TorchStepStateCritic",
]

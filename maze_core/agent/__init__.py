"""Agents: policies, critics, the actor-critic pair, and the composer interfaces that build them."""

from maze_core.agent.actor_critic import TorchActorCritic
from maze_core.agent.composers import BasePolicyComposer, BaseStateCriticComposer, CriticComposerInterface
from maze_core.agent.critics import TorchSharedStateCritic, TorchStateCritic, TorchStepStateCritic
from maze_core.agent.policy import TorchPolicy
from maze_core.agent.torch_model import TorchModel

__all__ = [
    "BasePolicyComposer",
    "BaseStateCriticComposer",
    "CriticComposerInterface",
    "TorchActorCritic",
    "TorchModel",
    "TorchPolicy",
    "TorchSharedStateCritic",
    "TorchStateCritic",
    "TorchStepStateCritic",
]

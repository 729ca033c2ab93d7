"""A policy and a critic trained together."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from maze_core.agent.critics import TorchStateCritic
from maze_core.agent.policy import TorchPolicy
from maze_core.agent.q_critics import TorchStateActionCritic
from maze_core.agent.q_policy import QGreedyPolicy
from maze_core.errors import ConfigurationError


class TorchActorCritic:
    """A policy and a critic handled as one model (parameters, device, train/eval mode, and a state
    dict ``{"policies": ..., "critics": ...}``).

    The policy is a :class:`TorchPolicy`, or a :class:`QGreedyPolicy` acting with this very critic;
    the critic a :class:`TorchStateCritic` (V(s)) or a :class:`TorchStateActionCritic` (Q(s, a)).
    """

    def __init__(
        self,
        policy: TorchPolicy | QGreedyPolicy,
        critic: TorchStateCritic | TorchStateActionCritic,
        device: str | torch.device = "cpu",
    ):
        if not isinstance(policy, TorchPolicy | QGreedyPolicy):
            raise ConfigurationError(
                f"TorchActorCritic needs a TorchPolicy or a QGreedyPolicy, got {type(policy).__name__}"
            )
        if not isinstance(critic, TorchStateCritic | TorchStateActionCritic):
            raise ConfigurationError(
                f"TorchActorCritic needs a TorchStateCritic or a TorchStateActionCritic, "
                f"got {type(critic).__name__}"
            )
        if isinstance(policy, QGreedyPolicy) and policy.critic is not critic:
            raise ConfigurationError(
                "TorchActorCritic: the QGreedyPolicy acts with another critic than the model's; build it "
                "over the model's critic (QGreedyPolicy(critic)), whose weights are the only ones saved"
            )
        self.policy = policy
        self.critic = critic
        self.device = torch.device(device)
        self.to(device)

    def parameters(self) -> Iterator[nn.Parameter]:
        """Policy and critic parameters, each once (the two may share networks)."""
        seen = set()
        for parameter in (*self.policy.parameters(), *self.critic.parameters()):
            if id(parameter) not in seen:
                seen.add(id(parameter))
                yield parameter

    def state_dict(self) -> dict[str, Any]:
        return {**self.policy.state_dict(), **self.critic.state_dict()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(self.policy, QGreedyPolicy):  # a QGreedyPolicy would load the critic again
            self.policy.load_state_dict(state_dict)
        self.critic.load_state_dict(state_dict)

    def to(self, device: str | torch.device) -> TorchActorCritic:
        self.device = torch.device(device)
        self.policy.to(self.device)
        self.critic.to(self.device)
        return self

    def train(self, mode: bool = True) -> TorchActorCritic:
        self.policy.train(mode)
        self.critic.train(mode)
        return self

    def eval(self) -> TorchActorCritic:
        return self.train(False)

    def __repr__(self) -> str:
        return f"TorchActorCritic(policy={self.policy!r}, critic={self.critic!r}, device={self.device})"

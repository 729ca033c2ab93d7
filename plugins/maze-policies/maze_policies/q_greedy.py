"""The greedy policy composer: acts with the argmax of a Discrete state-action critic (DQN)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from maze_core.agent import BasePolicyComposer, QGreedyPolicy, TorchStateActionCritic
from maze_core.errors import ConfigurationError


class QGreedyPolicyComposer(BasePolicyComposer):
    """Builds a :class:`~maze_core.agent.QGreedyPolicy` over ``critic``, a
    ``TorchStateActionCritic`` whose step keys each have one Discrete action head (the critic of a
    ``step_state_action`` or ``shared_state_action`` critic composer built for the same env). It
    builds no networks: the policy acts with the critic's first Q network, ε-greedy with the
    policy's ``epsilon`` (0 to start; an algorithm sets it as it explores).

    :param action_spaces_dict: ``{step_key: Dict space}``, e.g. ``env.action_spaces_dict``.
    :param observation_spaces_dict: ``{step_key: Dict space}``, e.g. ``env.observation_spaces_dict``.
    :param agent_counts_dict: ``{step_key: number of agents}``; default one per step key.
    :param critic: the critic to act with (required).
    """

    def __init__(
        self,
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        critic: TorchStateActionCritic | None = None,
    ):
        super().__init__(action_spaces_dict, observation_spaces_dict, agent_counts_dict)
        if not isinstance(critic, TorchStateActionCritic):
            got = "no critic" if critic is None else f"a {type(critic).__name__}"
            raise ConfigurationError(
                f"the q_greedy policy acts with a state-action critic over Discrete actions, but got {got}; "
                f"pass critic=<a step_state_action or shared_state_action critic composer's .critic>"
            )
        for step_key, space in self.action_spaces_dict.items():
            try:
                q_space = critic.action_space_of(step_key)
            except KeyError:
                raise ConfigurationError(
                    f"the q_greedy policy's critic has no Q networks for step key {step_key!r} (it has "
                    f"{list(critic.networks)}); build the critic for the same env"
                ) from None
            if q_space.space != space:
                raise ConfigurationError(
                    f"the q_greedy policy's critic has the actions {q_space.space} for step key "
                    f"{step_key!r}, but the env has {space}; build the critic for the same env"
                )
        self._policy = QGreedyPolicy(critic)

    @property
    def networks(self) -> dict:
        """None of its own: the networks it acts with are the critic's."""
        return {}

    @property
    def policy(self) -> QGreedyPolicy:
        """The policy over the critic (the same object on every access)."""
        return self._policy

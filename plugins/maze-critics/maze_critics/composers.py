"""Critic composers: state critics (V(s)) and state-action critics (Q(s, a), Q over all Discrete
actions), each with one set of networks shared by all step keys or one per step key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
from torch import nn

from maze_core.agent import (
    BaseStateActionCriticComposer,
    BaseStateCriticComposer,
    QActionSpace,
    TorchSharedStateActionCritic,
    TorchSharedStateCritic,
    TorchStepStateActionCritic,
    TorchStepStateCritic,
)
from maze_core.agent.composers import (
    build_network,
    check_network_outputs,
    network_device,
    network_specs,
    sample_observation,
)
from maze_core.agent.critics import SharedCriticInput
from maze_core.agent.q_critics import common_action_space
from maze_core.errors import ConfigurationError
from maze_core.perception import (
    FlattenConcatQValuesNet,
    FlattenConcatStateActionValueNet,
    FlattenConcatStateValueNet,
)

_VALUE_OUTPUT = {"value": (1,)}
_NETWORK_SPECS_DOC = """
    ``networks`` entries are an ``nn.Module`` (used as it is) or a spec the network is built from
    with ``obs_shapes=``: a class or factory, its dotted path, or ``{"_target_": class or path,
    **kwargs}``; None builds the default ``FlattenConcatStateValueNet``, sized by ``hidden_units``
    (e.g. ``[64, 64]``; default 256x256) and ``activation`` (e.g. ``"relu"``; default tanh), with
    memory if ``recurrent`` is ``"lstm"`` or ``"gru"`` (``RecurrentFlattenConcatStateValueNet``). A
    value network returns ``{"value": tensor[..., 1]}``; each is checked at construction with a
    forward pass on a sampled batch of observations.
"""


class SharedStateCriticComposer(BaseStateCriticComposer):
    """One value network for all step keys and agents (``networks``: one entry, e.g. ``[net]`` or
    ``{0: net}``); it gets the union of all step keys' observations, with observations seen by
    several actors stacked when ``stack_observations`` is set (see ``SharedCriticInput``).
    """

    __doc__ += _NETWORK_SPECS_DOC

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        networks: Any = None,
        stack_observations: bool = False,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
        recurrent: str | None = None,
    ):
        super().__init__(
            observation_spaces_dict,
            agent_counts_dict,
            hidden_units=hidden_units,
            activation=activation,
            recurrent=recurrent,
        )
        self.stack_observations = stack_observations
        self.input = SharedCriticInput(
            self.observation_spaces_dict, self.agent_counts_dict, stack_observations
        )
        self.shared_obs_shapes = self.input.shapes
        network = build_network(
            _single_spec(networks, "StepStateCriticComposer"),
            {
                "obs_shapes": self.shared_obs_shapes,
                "obs_spaces": {
                    key: space
                    for step_space in self.observation_spaces_dict.values()
                    for key, space in step_space.spaces.items()
                },
            },
            default=FlattenConcatStateValueNet,
            what="shared value network",
            default_kwargs=self.default_network_kwargs,
        )
        check_network_outputs(
            network,
            self._sample_observation(network),
            _VALUE_OUTPUT,
            f"shared value network ({type(network).__name__})",
        )
        self._networks = {0: network}

    def _build_critic(self) -> TorchSharedStateCritic:
        return TorchSharedStateCritic(
            self._networks,
            obs_spaces_dict=self.observation_spaces_dict,
            device=network_device(self._networks[0]),
            stack_observations=self.stack_observations,
            agent_counts_dict=self.agent_counts_dict,
        )

    def _sample_observation(self, network: nn.Module):
        """A sampled batch of the shared input: all keys of all step keys, stacked where needed."""
        merged = {}
        for space in self.observation_spaces_dict.values():
            merged.update(space.spaces)
        stack_counts = {key: len(self.input.actors[key]) for key in self.input.stacked}
        return sample_observation(gym.spaces.Dict(merged), network_device(network), stack_counts)


class StepStateCriticComposer(BaseStateCriticComposer):
    """One value network per step key (``networks``: a list, index = step key, or a dict)."""

    __doc__ += _NETWORK_SPECS_DOC

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        networks: Any = None,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
        recurrent: str | None = None,
    ):
        super().__init__(
            observation_spaces_dict,
            agent_counts_dict,
            hidden_units=hidden_units,
            activation=activation,
            recurrent=recurrent,
        )
        specs = network_specs(networks, self.step_keys)
        self._networks: dict[Any, nn.Module] = {}
        for step_key in self.step_keys:
            what = f"value network for step key {step_key!r}"
            network = build_network(
                specs.get(step_key),
                {
                    "obs_shapes": self.obs_shapes[step_key],
                    "obs_spaces": self.observation_spaces_dict[step_key],
                },
                default=FlattenConcatStateValueNet,
                what=what,
                default_kwargs=self.default_network_kwargs,
            )
            check_network_outputs(
                network,
                sample_observation(self.observation_spaces_dict[step_key], network_device(network)),
                _VALUE_OUTPUT,
                f"{what} ({type(network).__name__})",
            )
            self._networks[step_key] = network

    def _build_critic(self) -> TorchStepStateCritic:
        return TorchStepStateCritic(
            self._networks,
            obs_spaces_dict=self.observation_spaces_dict,
            device=network_device(next(iter(self._networks.values()))),
        )


def _single_spec(networks: Any, step_composer: str) -> Any:
    """The one network (spec) of a shared critic, from None, a spec, ``[spec]`` or ``{key: spec}``."""
    if isinstance(networks, list | tuple):
        entries = list(networks)
    elif isinstance(networks, Mapping) and "_target_" not in networks:
        entries = list(networks.values())
    else:
        return networks
    if len(entries) != 1:
        raise ConfigurationError(
            f"a shared critic has exactly one network (spec), but networks has {len(entries)} entries; "
            f"use {step_composer} for one network per step key"
        )
    return entries[0]


# --- state-action critics (off-policy algorithms) -------------------------------------------------

_Q_NETWORK_SPECS_DOC = """
    ``n_critics`` independent Q networks are built per step key (2 for twin critics). ``networks``
    entries are a spec each critic is built from with ``obs_shapes=`` and ``n_actions=`` (a Discrete
    head) or ``action_shapes=`` (Box heads): a class or factory, its dotted path, or
    ``{"_target_": class or path, **kwargs}``; None builds the default ``FlattenConcatQValuesNet`` /
    ``FlattenConcatStateActionValueNet``, sized by ``hidden_units`` and ``activation`` (defaults
    256x256, ReLU). An ``nn.Module`` is used as it is when ``n_critics`` is 1;
    an ``nn.ModuleList`` gives all ``n_critics`` networks. A Discrete Q network returns
    ``{"q_values": tensor[..., n_actions]}``; a Box one gets ``{**observation, **action}`` and
    returns ``{"q_value": tensor[..., 1]}``; each is checked at construction with a forward pass on
    a sampled batch.
"""


def _default_q_network(q_space: QActionSpace):
    return FlattenConcatQValuesNet if q_space.is_discrete else FlattenConcatStateActionValueNet


class SharedStateActionCriticComposer(BaseStateActionCriticComposer):
    """One set of ``n_critics`` Q networks for all step keys and agents (``networks``: one entry, e.g.
    ``[net]`` or ``{0: net}``); every step key must have the same action space. The networks get
    the union of all step keys' observations (see ``TorchSharedStateActionCritic``).
    """

    __doc__ += _Q_NETWORK_SPECS_DOC

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        networks: Any = None,
        n_critics: int = 1,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
    ):
        super().__init__(
            observation_spaces_dict,
            action_spaces_dict,
            agent_counts_dict,
            n_critics,
            hidden_units=hidden_units,
            activation=activation,
        )
        q_space = QActionSpace(common_action_space(self.action_spaces_dict))
        self.input = SharedCriticInput(self.observation_spaces_dict, self.agent_counts_dict)
        obs_spaces = {}
        for step_space in self.observation_spaces_dict.values():
            obs_spaces.update(step_space.spaces)
        spec = _single_spec(networks, "StepStateActionCriticComposer")
        self._networks = {
            0: self.build_q_networks(
                spec,
                self.input.shapes,
                gym.spaces.Dict(obs_spaces),
                q_space,
                "shared Q network",
                default=_default_q_network(q_space),
            )
        }

    def _build_critic(self) -> TorchSharedStateActionCritic:
        return TorchSharedStateActionCritic(
            self._networks,
            self.action_spaces_dict,
            obs_spaces_dict=self.observation_spaces_dict,
            device=network_device(self._networks[0]),
            agent_counts_dict=self.agent_counts_dict,
        )


class StepStateActionCriticComposer(BaseStateActionCriticComposer):
    """``n_critics`` Q networks per step key (``networks``: a list, index = step key, or a dict)."""

    __doc__ += _Q_NETWORK_SPECS_DOC

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        networks: Any = None,
        n_critics: int = 1,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
    ):
        super().__init__(
            observation_spaces_dict,
            action_spaces_dict,
            agent_counts_dict,
            n_critics,
            hidden_units=hidden_units,
            activation=activation,
        )
        specs = network_specs(networks, self.step_keys)
        self._networks: dict[Any, nn.ModuleList] = {
            step_key: self.build_q_networks(
                specs.get(step_key),
                self.obs_shapes[step_key],
                self.observation_spaces_dict[step_key],
                self.q_spaces[step_key],
                f"Q network for step key {step_key!r}",
                default=_default_q_network(self.q_spaces[step_key]),
            )
            for step_key in self.step_keys
        }

    def _build_critic(self) -> TorchStepStateActionCritic:
        return TorchStepStateActionCritic(
            self._networks,
            self.action_spaces_dict,
            obs_spaces_dict=self.observation_spaces_dict,
            device=network_device(next(iter(self._networks.values()))),
        )

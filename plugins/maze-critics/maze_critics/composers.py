"""State critic composers: one value network shared by all step keys, or one per step key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
from torch import nn

from maze_core.agent import BaseStateCriticComposer, TorchSharedStateCritic, TorchStepStateCritic
from maze_core.agent.composers import (
    build_network,
    check_network_outputs,
    network_device,
    network_specs,
    sample_observation,
)
from maze_core.agent.critics import SharedCriticInput
from maze_core.errors import ConfigurationError
from maze_core.perception import FlattenConcatStateValueNet

_VALUE_OUTPUT = {"value": (1,)}
_NETWORK_SPECS_DOC = """
    ``networks`` entries are an ``nn.Module`` (used as it is) or a spec the network is built from
    with ``obs_shapes=``: a class or factory, its dotted path, or ``{"_target_": class or path,
    **kwargs}``; None builds the default ``FlattenConcatStateValueNet``. A value network returns
    ``{"value": tensor[..., 1]}``; each is checked at construction with a forward pass on a sampled
    batch of observations.
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
    ):
        super().__init__(observation_spaces_dict, agent_counts_dict)
        self.stack_observations = stack_observations
        self.input = SharedCriticInput(
            self.observation_spaces_dict, self.agent_counts_dict, stack_observations
        )
        self.shared_obs_shapes = self.input.shapes
        network = build_network(
            _single_spec(networks),
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
    ):
        super().__init__(observation_spaces_dict, agent_counts_dict)
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


def _single_spec(networks: Any) -> Any:
    """The one network (spec) of a shared critic, from None, a spec, ``[spec]`` or ``{key: spec}``."""
    if isinstance(networks, list | tuple):
        entries = list(networks)
    elif isinstance(networks, Mapping) and "_target_" not in networks:
        entries = list(networks.values())
    else:
        return networks
    if len(entries) != 1:
        raise ConfigurationError(
            f"a shared critic has exactly one value network, but networks has {len(entries)} entries; "
            f"use StepStateCriticComposer for one network per step key"
        )
    return entries[0]

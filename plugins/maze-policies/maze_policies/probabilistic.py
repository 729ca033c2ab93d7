"""The probabilistic policy composer: one policy network per step key (or per agent)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
from torch import nn

from maze_core.agent import BasePolicyComposer, TorchPolicy
from maze_core.agent.composers import (
    build_network,
    check_network_outputs,
    network_device,
    network_specs,
    sample_observation,
)
from maze_core.distributions import DistributionMapper
from maze_core.errors import ConfigurationError
from maze_core.perception import FlattenConcatPolicyNet


class ProbabilisticPolicyComposer(BasePolicyComposer):
    """Builds a :class:`TorchPolicy` sampling actions from the distributions of its networks' logits.

    :param action_spaces_dict: ``{step_key: Dict space}``, e.g. ``env.action_spaces_dict``.
    :param observation_spaces_dict: ``{step_key: Dict space}``, e.g. ``env.observation_spaces_dict``.
    :param distribution_mapper: the distribution of each action head; default: by space type.
    :param networks: a list (index = step key) or a dict keyed by step key. An entry is an
        ``nn.Module`` (used as it is), or a spec the network is built from with
        ``obs_shapes=`` and ``action_logits_shapes=``: a class or factory, its dotted path, or
        ``{"_target_": class or path, **kwargs}``; None (or a missing ``networks``) builds the
        default ``FlattenConcatPolicyNet``.
    :param substeps_with_separate_agent_nets: step keys whose agents each get their own network,
        keyed ``(step_key, agent_id)``: built from the step key's spec, or given as instances
        under those keys.
    :param agent_counts_dict: ``{step_key: number of agents}``; default one per step key.
    :param hidden_units: the hidden layer sizes of the default networks, e.g. ``[64, 64]``
        (default 256x256); ``activation``: their activation, e.g. ``"relu"`` (default tanh);
        ``recurrent``: ``"lstm"`` or ``"gru"`` gives them memory (docs/models.md, "Recurrent
        policies").
    :param action_masks_as_features: also feed the action masks (``<head>_mask`` observations) to
        the networks as input features; they mask the logits either way (docs/models.md).

    Every network is checked at construction with a forward pass on a sampled batch of
    observations; a network returning the wrong keys or logits shapes raises a
    ``ConfigurationError`` naming it and its step key.
    """

    def __init__(
        self,
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        distribution_mapper: DistributionMapper | None = None,
        networks: Any = None,
        substeps_with_separate_agent_nets=(),
        agent_counts_dict: Mapping[Any, int] | None = None,
        action_masks_as_features: bool = False,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
        recurrent: str | None = None,
    ):
        super().__init__(
            action_spaces_dict,
            observation_spaces_dict,
            agent_counts_dict,
            distribution_mapper,
            action_masks_as_features,
            hidden_units=hidden_units,
            activation=activation,
            recurrent=recurrent,
        )
        self.substeps_with_separate_agent_nets = list(substeps_with_separate_agent_nets or ())
        unknown = [
            key for key in self.substeps_with_separate_agent_nets if key not in self.action_spaces_dict
        ]
        if unknown:
            raise ConfigurationError(
                f"substeps_with_separate_agent_nets names {unknown}, which are not step keys of the env "
                f"({self.step_keys})"
            )
        agent_keys = [
            (step_key, agent_id)
            for step_key in self.substeps_with_separate_agent_nets
            for agent_id in range(self.agent_counts_dict[step_key])
        ]
        specs = network_specs(networks, self.step_keys, extra_keys=agent_keys)
        self._networks: dict[Any, nn.Module] = {}
        for step_key in self.step_keys:
            if step_key in self.substeps_with_separate_agent_nets:
                for agent_id in self._agent_ids(step_key):
                    key = (step_key, agent_id)
                    spec = specs[key] if key in specs else self._shared_spec(specs.get(step_key), step_key)
                    self._networks[key] = self._build(spec, step_key, f"policy network for actor {key}")
            else:
                spec = specs.get(step_key)
                self._networks[step_key] = self._build(
                    spec, step_key, f"policy network for step key {step_key!r}"
                )
        self._policy: TorchPolicy | None = None

    @property
    def networks(self) -> dict[Any, nn.Module]:
        return self._networks

    @property
    def policy(self) -> TorchPolicy:
        """The policy over this composer's networks (the same object on every access)."""
        if self._policy is None:
            self._policy = TorchPolicy(
                networks=self._networks,
                distribution_mapper=self.distribution_mapper,
                device=network_device(next(iter(self._networks.values()))),
                substeps_with_separate_agent_nets=self.substeps_with_separate_agent_nets,
                obs_spaces_dict=self.observation_spaces_dict,
            )
        return self._policy

    def _agent_ids(self, step_key) -> range:
        count = self.agent_counts_dict[step_key]
        if count < 1:
            raise ConfigurationError(
                f"step key {step_key!r} is in substeps_with_separate_agent_nets but has agent count {count}; "
                f"one network per agent needs a fixed number of agents (set agent_counts_dict)"
            )
        return range(count)

    def _shared_spec(self, spec: Any, step_key) -> Any:
        if isinstance(spec, nn.Module):
            raise ConfigurationError(
                f"networks[{step_key!r}] is an instantiated {type(spec).__name__}, but step key "
                f"{step_key!r} is in substeps_with_separate_agent_nets, so each of its "
                f"{self.agent_counts_dict[step_key]} agents needs its own network. Give a spec to build "
                f"one per agent (the class, or "
                f"{{'_target_': class, **kwargs}}), or one instance per agent under the keys "
                f"{[(step_key, a) for a in self._agent_ids(step_key)]}"
            )
        return spec

    def _build(self, spec: Any, step_key, what: str) -> nn.Module:
        network = build_network(
            spec,
            {
                "obs_shapes": self.obs_shapes[step_key],
                "obs_spaces": self.observation_spaces_dict[step_key],
                "action_logits_shapes": self.action_logits_shapes[step_key],
            },
            default=FlattenConcatPolicyNet,
            what=what,
            default_kwargs=self.default_network_kwargs,
        )
        mapper = self.distribution_mapper
        hints = {
            head: f" ({mapper.distribution_class(head).__name__} for {mapper.action_space[head]})"
            for head in self.action_logits_shapes[step_key]
        }
        check_network_outputs(
            network,
            sample_observation(self.observation_spaces_dict[step_key], network_device(network)),
            self.action_logits_shapes[step_key],
            f"{what} ({type(network).__name__})",
            hints,
        )
        return network

"""What policies and critics share: a set of networks keyed by step key (or by ``(step_key,
agent_id)``), their device, parameters and state dict, and the routing from actor ids to networks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from maze_core.agent.observations import feature_ranks
from maze_core.errors import ConfigurationError


class TorchModel:
    """Networks keyed by step key, or by ``(step_key, agent_id)`` for the step keys in
    ``substeps_with_separate_agent_nets``; ``state_dict()`` is ``{state_dict_key: {network key:
    network state dict}}``.

    With ``obs_spaces_dict`` the model knows each observation's rank and hands its networks inputs
    with exactly one batch dim, whatever the caller passes; without it the inputs go as they are.
    """

    state_dict_key = "networks"

    def __init__(
        self,
        networks: Mapping[Any, nn.Module],
        device: str | torch.device = "cpu",
        substeps_with_separate_agent_nets=(),
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
    ):
        if not networks:
            raise ConfigurationError(f"{type(self).__name__} needs at least one network")
        for key, network in networks.items():
            if not isinstance(network, nn.Module):
                raise ConfigurationError(
                    f"{type(self).__name__}: network {key!r} is a {type(network).__name__}, "
                    f"not a torch.nn.Module"
                )
        self._networks = dict(networks)
        #: keys of the networks with memory (RecurrentNet): they run only with a RecurrentMemory
        self._recurrent = frozenset(
            key for key, network in self._networks.items() if hasattr(network, "forward_with_state")
        )
        self.substeps_with_separate_agent_nets = frozenset(substeps_with_separate_agent_nets or ())
        self._feature_ranks = feature_ranks(obs_spaces_dict)
        self._routes: dict[Any, tuple[Any, Any]] = {}
        self.device = torch.device(device)
        self.to(device)

    @property
    def networks(self) -> dict[Any, nn.Module]:
        return self._networks

    @property
    def is_recurrent(self) -> bool:
        """Whether a network has memory: then calls take a
        :class:`~maze_core.agent.memory.RecurrentMemory` (``memory=``)."""
        return bool(self._recurrent)

    def _run_network(self, network_key, observation: dict[str, torch.Tensor], actor_id, memory):
        """The network's outputs for an observation with one batch dim; a recurrent network runs
        from ``memory``'s state of ``actor_id`` and leaves the state after the call there."""
        network = self._networks[network_key]
        if network_key not in self._recurrent:
            return network(observation)
        if memory is None:
            raise ConfigurationError(
                f"{type(self).__name__}: network {network_key!r} ({type(network).__name__}) is recurrent and "
                "needs its hidden state: pass memory=RecurrentMemory() and keep it across steps "
                "(RunContext.compute_action does; see docs/models.md, 'Recurrent policies')"
            )
        batch = memory.n_sequences  # None: one step of each row's env; else padded sequences (L, K)
        if batch is None:
            batch = next(iter(observation.values())).shape[0]
        state = memory.state(actor_id, batch, network.state_size, self.device)
        outputs, memory.states[actor_id] = network.forward_with_state(observation, state, memory.lengths)
        return outputs

    def network_for(self, actor_id=None) -> nn.Module:
        """The network acting for ``actor_id`` (``(step_key, agent_id)``, a step key, or None when
        there is a single network)."""
        return self._networks[self._route(actor_id)[0]]

    def _route(self, actor_id) -> tuple[Any, Any]:
        """(network key, step key) for an actor id; cached, as it runs on every step."""
        route = self._routes.get(actor_id)
        if route is None:
            route = self._routes[actor_id] = self._find_route(actor_id)
        return route

    def _find_route(self, actor_id) -> tuple[Any, Any]:
        keys = list(self._networks)
        if actor_id is None:
            if len(keys) != 1:
                raise ValueError(
                    f"{type(self).__name__} has networks for {keys}; "
                    f"pass actor_id=(step_key, agent_id) to choose"
                )
            key = keys[0]
            step_key = (
                key[0] if isinstance(key, tuple) and key[0] in self.substeps_with_separate_agent_nets else key
            )
            return key, step_key
        step_key, agent_id = (actor_id[0], actor_id[1]) if isinstance(actor_id, tuple) else (actor_id, None)
        key = step_key
        if step_key in self.substeps_with_separate_agent_nets:
            if agent_id is None:
                raise ValueError(
                    f"step key {step_key!r} has one network per agent; pass actor_id=(step_key, agent_id)"
                )
            key = (step_key, agent_id)
        if key not in self._networks:
            raise KeyError(
                f"{type(self).__name__} has no network for actor {actor_id!r}; it has networks for {keys}"
            )
        return key, step_key

    def parameters(self) -> Iterator[nn.Parameter]:
        """All parameters, each once (a network may serve several keys)."""
        seen = set()
        for network in self._networks.values():
            for parameter in network.parameters():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield parameter

    def state_dict(self) -> dict[str, dict[Any, dict[str, torch.Tensor]]]:
        return {self.state_dict_key: {key: network.state_dict() for key, network in self._networks.items()}}

    def load_state_dict(self, state_dict: Mapping[Any, Any]) -> None:
        """Load what :meth:`state_dict` returned, ``{state_dict_key: {network key: state}}`` (other
        top-level entries, such as an actor-critic's, are ignored), or just ``{network key: state}``."""
        states = state_dict.get(self.state_dict_key, state_dict)
        missing = [key for key in self._networks if key not in states]
        if missing:
            raise KeyError(
                f"the state dict lacks the networks {missing} of this {type(self).__name__} "
                f"(it has {list(states)})"
            )
        for key, network in self._networks.items():
            network.load_state_dict(states[key])

    def to(self, device: str | torch.device):
        self.device = torch.device(device)
        for network in self._networks.values():
            network.to(self.device)
        return self

    def train(self, mode: bool = True):
        for network in self._networks.values():
            network.train(mode)
        return self

    def eval(self):
        return self.train(False)

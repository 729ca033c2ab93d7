"""State critics: value networks returning ``{"value": tensor[..., 1]}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from maze_core.agent.observations import (
    Shape,
    as_dict_spaces,
    flatten_batch,
    observation_shapes,
    restore_batch,
    to_tensor_dict,
)
from maze_core.agent.torch_model import TorchModel
from maze_core.errors import ConfigurationError


class TorchStateCritic(TorchModel):
    """State-value function(s) V(s); ``state_dict()`` is ``{"critics": {network key: state dict}}``.

    :meth:`predict_value` runs the network for one actor's observations (any batch shape) and
    returns the values with the trailing value dim squeezed: the batch shape. A recurrent critic
    runs from ``memory`` (a :class:`~maze_core.agent.memory.RecurrentMemory`) and leaves its new
    state there.
    """

    state_dict_key = "critics"

    def predict_value(self, obs_tensors: Mapping[str, Any], actor_id=None, memory=None) -> torch.Tensor:
        return self._value(to_tensor_dict(obs_tensors, self.device), actor_id, memory)

    def predict_values(self, observations: Mapping[Any, Mapping[str, Any]]) -> dict[Any, torch.Tensor]:
        """Values for the observations of several actors ``{actor_id: observation}`` of one env step."""
        return {actor_id: self.predict_value(obs, actor_id) for actor_id, obs in observations.items()}

    def _value(self, observation: dict[str, torch.Tensor], actor_id, memory) -> torch.Tensor:
        network_key, step_key = self._route(actor_id)
        observation, batch_shape = flatten_batch(observation, self._feature_ranks.get(step_key))
        value = self._run_network(network_key, observation, actor_id, memory)["value"]
        if value.shape[-1:] != (1,):
            raise ValueError(
                f"value network {type(self._networks[network_key]).__name__} returned 'value' of shape "
                f"{tuple(value.shape)}; "
                f"it must be (..., 1)"
            )
        return restore_batch(value, batch_shape)[..., 0]

    def __repr__(self) -> str:
        networks = ", ".join(f"{key!r}: {type(net).__name__}" for key, net in self._networks.items())
        return f"{type(self).__name__}(networks={{{networks}}}, device={self.device})"


class TorchStepStateCritic(TorchStateCritic):
    """One value network per step key: ``networks = {step_key: network}``."""

    def __init__(
        self,
        networks: Mapping[Any, nn.Module],
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
        device: str | torch.device = "cpu",
    ):
        super().__init__(networks, device, (), obs_spaces_dict)


class TorchSharedStateCritic(TorchStateCritic):
    """One value network for all step keys and agents: ``networks = {0: network}``.

    The network's input is the union of the observation keys of all step keys, with a key seen by
    several actors stacked along a new dim after the batch dims when ``stack_observations`` is set
    (see :class:`SharedCriticInput`). :meth:`predict_values` builds that input from the
    observations of all actors of one env step. :meth:`predict_value` with an ``actor_id`` takes
    that actor's own observation and fills in the rest with zeros (keys of other step keys, other
    actors' slots of stacked keys); with ``actor_id=None`` the observation must be the full input.
    For a single step key with one agent, the actor's observation is the full input.
    """

    def __init__(
        self,
        networks: Mapping[Any, nn.Module],
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
        device: str | torch.device = "cpu",
        stack_observations: bool = False,
        agent_counts_dict: Mapping[Any, int] | None = None,
    ):
        if len(networks) != 1:
            raise ConfigurationError(
                f"a shared critic has exactly one network, got {len(networks)}: {list(networks)}"
            )
        super().__init__(networks, device)
        self.stack_observations = stack_observations
        self.input = (
            SharedCriticInput(obs_spaces_dict, agent_counts_dict, stack_observations)
            if obs_spaces_dict
            else None
        )
        if self.input is not None:
            # all routes of a shared critic lead to "step key" None, whose ranks are the merged input's
            self._feature_ranks = {None: {key: len(shape) for key, shape in self.input.shapes.items()}}

    def _find_route(self, actor_id):
        return next(iter(self._networks)), None

    def predict_value(self, obs_tensors: Mapping[str, Any], actor_id=None, memory=None) -> torch.Tensor:
        observation = to_tensor_dict(obs_tensors, self.device)
        if actor_id is not None and self.input is not None:
            observation = self.input.complete(observation, actor_id)
        return self._value(observation, actor_id, memory)

    def predict_values(self, observations: Mapping[Any, Mapping[str, Any]]) -> dict[Any, torch.Tensor]:
        """The shared value of one env step, for each actor ``{actor_id: observation}`` given."""
        per_key: dict[str, list[torch.Tensor]] = {}
        for observation in observations.values():
            for key, tensor in to_tensor_dict(observation, self.device).items():
                per_key.setdefault(key, []).append(tensor)
        merged = {}
        for key, tensors in per_key.items():
            if len(tensors) == 1 or not self.stack_observations:
                merged[key] = tensors[-1]
            else:
                n_features = len(self.input.actor_shapes[key]) if self.input else tensors[0].dim() - 1
                merged[key] = torch.stack(tensors, dim=tensors[0].dim() - n_features)
        value = self.predict_value(merged)
        return {actor_id: value for actor_id in observations}


class SharedCriticInput:
    """The input of a shared critic: the union of all step keys' observation keys.

    A key must have the same shape wherever it occurs. With ``stack_observations``, a key seen by
    ``n > 1`` actors (``(step_key, agent_id)`` in step key and agent order) has the shape
    ``(n, *shape)``, actor ``i``'s observation in slot ``i``.
    """

    def __init__(
        self,
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        stack_observations: bool = False,
    ):
        agent_counts_dict = agent_counts_dict or {}
        self.actor_shapes: dict[str, Shape] = {}  # one actor's observation
        self.actors: dict[str, list[tuple]] = {}  # who sees each key
        spaces_dict = as_dict_spaces(obs_spaces_dict, "observation")
        for step_key, space in spaces_dict.items():
            n_agents = agent_counts_dict.get(step_key, 1)
            if stack_observations and n_agents < 1:
                raise ConfigurationError(
                    f"stack_observations needs a fixed number of agents, but step key {step_key!r} has "
                    f"agent count {n_agents}"
                )
            for key, shape in observation_shapes(space, step_key).items():
                if self.actor_shapes.setdefault(key, shape) != shape:
                    raise ConfigurationError(
                        f"observation {key!r} has shape {self.actor_shapes[key]} in one step key and {shape} "
                        f"in step key {step_key!r}; a shared critic needs one shape per key "
                        f"(or use a step critic)"
                    )
                self.actors.setdefault(key, []).extend((step_key, a) for a in range(max(n_agents, 1)))
        self.stacked = {key for key, actors in self.actors.items() if stack_observations and len(actors) > 1}
        self.shapes: dict[str, Shape] = {
            key: (len(self.actors[key]), *shape) if key in self.stacked else shape
            for key, shape in self.actor_shapes.items()
        }
        # step keys whose actors' observations are already the full input
        self._complete_step_keys = {
            step_key
            for step_key, space in spaces_dict.items()
            if set(space.spaces) == set(self.shapes) and not self.stacked
        }

    def complete(self, observation: dict[str, torch.Tensor], actor_id) -> dict[str, torch.Tensor]:
        """The full input from one actor's observation: zeros for what the actor does not see."""
        step_key, agent_id = (actor_id[0], actor_id[1]) if isinstance(actor_id, tuple) else (actor_id, 0)
        if step_key in self._complete_step_keys:
            return observation
        reference_key = next(key for key in observation if key in self.actor_shapes)
        reference = observation[reference_key]
        batch_shape = reference.shape[: reference.dim() - len(self.actor_shapes[reference_key])]
        completed = dict(observation)
        for key, shape in self.actor_shapes.items():
            own = observation.get(key)
            if key in self.stacked:
                zeros = reference.new_zeros((*batch_shape, *shape))
                me = (step_key, agent_id)
                parts = [own if own is not None and actor == me else zeros for actor in self.actors[key]]
                completed[key] = torch.stack(parts, dim=len(batch_shape))
            elif own is None:
                completed[key] = reference.new_zeros((*batch_shape, *shape))
        return completed

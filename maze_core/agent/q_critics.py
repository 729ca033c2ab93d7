"""State-action critics for off-policy algorithms, and the base of the composers that build them.

A step key's actions decide the kind of Q function (:class:`QActionSpace`):

* a Dict with exactly one ``Discrete`` head: **Q over all actions**. A network maps the observation
  dict to ``{"q_values": tensor[..., n_actions]}``; :meth:`TorchStateActionCritic.q_values`.
* a Dict of ``Box`` heads: **Q(s, a)**. A network maps one dict holding the observation *and* the
  action (``{**observation, **action}``, action heads under their own names, as the original Maze
  did; a head named like an observation key is refused) to ``{"q_value": tensor[..., 1]}``;
  :meth:`TorchStateActionCritic.q_value`.

Each step key (or, for a shared critic, all of them) has ``n_critics`` independent Q networks,
kept in one ``nn.ModuleList``: twin critics (SAC, TD3) are ``n_critics=2``. A target copy is
``copy.deepcopy(critic)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from maze_core.agent.composers import (
    NetworkCriticComposer,
    agent_counts,
    build_network,
    check_network_outputs,
    network_device,
    sample_observation,
)
from maze_core.agent.critics import SharedCriticInput
from maze_core.agent.network_size import default_network_kwargs
from maze_core.agent.observations import (
    Shape,
    as_dict_spaces,
    flatten_batch,
    observation_shapes,
    restore_batch,
    to_tensor_dict,
)
from maze_core.agent.torch_model import TorchModel
from maze_core.distributions.masks import mask_key, valid_actions, without_masks
from maze_core.errors import ConfigurationError


class QActionSpace:
    """The action side of a step key's Q function: ``discrete_head`` (the one ``Discrete`` head, with
    ``n_actions`` and ``start``) or ``action_shapes`` (``{head: shape}`` of its ``Box`` heads)."""

    def __init__(self, space: gym.spaces.Dict, step_key: Any = None):
        heads = dict(space.spaces)
        self.space = space
        self.discrete_head: str | None = None
        self.n_actions = 0
        self.start = 0
        self.action_shapes: dict[str, Shape] = {}
        if len(heads) == 1 and isinstance(next(iter(heads.values())), gym.spaces.Discrete):
            self.discrete_head, head_space = next(iter(heads.items()))
            self.n_actions, self.start = int(head_space.n), int(head_space.start)
        elif heads and all(isinstance(s, gym.spaces.Box) for s in heads.values()):
            self.action_shapes = {head: tuple(int(d) for d in s.shape) for head, s in heads.items()}
        else:
            raise ConfigurationError(
                f"step key {step_key!r} has the action space {space}, which state-action critics do not "
                f"support: they take a Dict with exactly one Discrete head (Q over all actions) or a Dict "
                f"of Box heads (Q(s, a))"
            )

    @property
    def is_discrete(self) -> bool:
        return self.discrete_head is not None


class TorchStateActionCritic(TorchModel):
    """``n_critics`` independent Q functions per network key; ``networks = {key: nn.ModuleList}``
    (or a list of modules), ``state_dict()`` is ``{"critics": {key: state dict}}``.

    :meth:`q_values` (Discrete actions) and :meth:`q_value` (any supported actions) take one actor's
    observation of any batch shape (none, ``(B,)``, ``(T, N)``) and return one result per critic,
    stacked along a new first dim, with gradients.
    """

    state_dict_key = "critics"

    def __init__(
        self,
        networks: Mapping[Any, Sequence[nn.Module]],
        action_spaces: Mapping[Any, QActionSpace],
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
        device: str | torch.device = "cpu",
    ):
        lists = {key: _module_list(key, nets) for key, nets in networks.items()}
        counts = {len(nets) for nets in lists.values()}
        if len(counts) > 1:
            raise ConfigurationError(
                f"every network key of a state-action critic needs the same number of critics, got "
                f"{ {key: len(nets) for key, nets in lists.items()} }"
            )
        super().__init__(lists, device, (), obs_spaces_dict)
        self._spaces = dict(action_spaces)
        if self._feature_ranks:  # Q(s, a) networks also get the actions with one batch dim
            for step_key, space in self._spaces.items():
                self._feature_ranks[step_key] = {
                    **self._feature_ranks.get(step_key, {}),
                    **{head: len(shape) for head, shape in space.action_shapes.items()},
                }

    @property
    def n_critics(self) -> int:
        return len(next(iter(self._networks.values())))

    @property
    def q_spaces(self) -> dict[Any, QActionSpace]:
        """``{step_key: QActionSpace}`` (a shared critic's: ``{None: ...}``)."""
        return dict(self._spaces)

    def action_space_of(self, actor_id=None) -> QActionSpace:
        """The :class:`QActionSpace` of ``actor_id``'s Q functions."""
        return self._spaces[self._route(actor_id)[1]]

    def q_values(
        self, observation: Mapping[str, Any], actor_id=None, n_critics: int | None = None
    ) -> torch.Tensor:
        """Q-values of all actions of a Discrete head: ``(n_critics, *batch_shape, n_actions)``;
        ``n_critics`` evaluates only the first that many critics (e.g. 1 to act greedily)."""
        network_key, step_key = self._route(actor_id)
        space = self._spaces[step_key]
        if not space.is_discrete:
            raise ValueError(
                f"q_values is for a Discrete action head, but actor {actor_id!r} has the Box heads "
                f"{list(space.action_shapes)}: use q_value(observation, action)"
            )
        inputs = self._input(observation, actor_id)
        inputs, batch_shape = flatten_batch(inputs, self._feature_ranks.get(step_key))
        results = []
        for network in self._networks[network_key][:n_critics]:
            q = network(inputs)["q_values"]
            if q.shape[-1:] != (space.n_actions,):
                raise ValueError(
                    f"Q network {type(network).__name__} returned 'q_values' of shape {tuple(q.shape)}; "
                    f"it must be (..., {space.n_actions}), one per action of {space.discrete_head!r}"
                )
            results.append(restore_batch(q, batch_shape))
        return torch.stack(results)

    def valid_actions(
        self, observation: Mapping[str, Any], actor_id=None, check: bool = True
    ) -> torch.Tensor | None:
        """Which actions of the Discrete head are valid, ``(*batch_shape, n_actions)`` bool, if the
        observation carries the head's action mask (see :mod:`maze_core.distributions.masks`),
        else None: for greedy choices over valid actions only, acting and in targets alike.
        ``check`` False lets a mask allow no action (a terminal observation's may: a target that
        does not bootstrap from it takes any action's value)."""
        space = self._spaces[self._route(actor_id)[1]]
        mask = observation.get(mask_key(space.discrete_head))
        if mask is None:
            return None
        segments = (space.n_actions,) if check else ()
        return valid_actions(mask, space.discrete_head, segments, self.device)

    def q_value(
        self, observation: Mapping[str, Any], action: Mapping[str, Any], actor_id=None
    ) -> torch.Tensor:
        """Q(s, a) of every critic: ``(n_critics, *batch_shape)``. ``action`` is ``{head: tensor or
        array}`` with the observation's batch shape; for a Discrete head, the Q-values of the actions
        taken (picked from :meth:`q_values`)."""
        network_key, step_key = self._route(actor_id)
        space = self._spaces[step_key]
        if space.is_discrete:
            missing = [space.discrete_head] if space.discrete_head not in action else []
        else:
            missing = [head for head in space.action_shapes if head not in action]
        if missing:
            raise ValueError(f"q_value: the action lacks the heads {missing} (it has {list(action)})")
        if space.is_discrete:
            q = self.q_values(observation, actor_id)
            index = torch.as_tensor(action[space.discrete_head], device=q.device).long() - space.start
            index = index.unsqueeze(-1).expand(*q.shape[:-1], 1)
            return q.gather(-1, index)[..., 0]
        actions = to_tensor_dict({head: action[head] for head in space.action_shapes}, self.device)
        inputs = {**self._input(observation, actor_id), **actions}
        inputs, batch_shape = flatten_batch(inputs, self._feature_ranks.get(step_key))
        results = []
        for network in self._networks[network_key]:
            q = network(inputs)["q_value"]
            if q.shape[-1:] != (1,):
                raise ValueError(
                    f"Q network {type(network).__name__} returned 'q_value' of shape {tuple(q.shape)}; "
                    f"it must be (..., 1)"
                )
            results.append(restore_batch(q, batch_shape)[..., 0])
        return torch.stack(results)

    def _input(self, observation: Mapping[str, Any], actor_id) -> dict[str, torch.Tensor]:
        return to_tensor_dict(observation, self.device)

    def __repr__(self) -> str:
        networks = ", ".join(
            f"{key!r}: {len(nets)} x {type(nets[0]).__name__}" for key, nets in self._networks.items()
        )
        return f"{type(self).__name__}(networks={{{networks}}}, device={self.device})"


class TorchStepStateActionCritic(TorchStateActionCritic):
    """``n_critics`` Q networks per step key: ``networks = {step_key: [network, ...]}``."""

    def __init__(
        self,
        networks: Mapping[Any, Sequence[nn.Module]],
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
        device: str | torch.device = "cpu",
    ):
        spaces = as_dict_spaces(action_spaces_dict, "action")
        missing = [step_key for step_key in spaces if step_key not in networks]
        if missing:
            raise ConfigurationError(
                f"a step state-action critic needs networks for every step key; {missing} have none "
                f"(networks: {list(networks)})"
            )
        action_spaces = {step_key: QActionSpace(space, step_key) for step_key, space in spaces.items()}
        super().__init__(networks, action_spaces, obs_spaces_dict, device)
        self.action_spaces_dict = spaces


class TorchSharedStateActionCritic(TorchStateActionCritic):
    """One set of ``n_critics`` Q networks for all step keys and agents: ``networks = {0: [...]}``;
    every step key must have the same action space.

    As for :class:`~maze_core.agent.critics.TorchSharedStateCritic`, the networks' observation is
    the union of all step keys' observation keys; with an ``actor_id``, what that actor does not see
    is filled in with zeros (nothing is filled in for a single step key).
    """

    def __init__(
        self,
        networks: Mapping[Any, Sequence[nn.Module]],
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
        device: str | torch.device = "cpu",
        agent_counts_dict: Mapping[Any, int] | None = None,
    ):
        if len(networks) != 1:
            raise ConfigurationError(
                f"a shared state-action critic has exactly one network key, got {len(networks)}: "
                f"{list(networks)}"
            )
        self.action_spaces_dict = as_dict_spaces(action_spaces_dict, "action")
        space = QActionSpace(common_action_space(self.action_spaces_dict), "(all, shared)")
        self.input = SharedCriticInput(obs_spaces_dict, agent_counts_dict) if obs_spaces_dict else None
        super().__init__(networks, {None: space}, None, device)
        if self.input is not None:
            # all routes lead to "step key" None, whose ranks are the merged input's and the actions'
            self._feature_ranks = {
                None: {
                    **{key: len(shape) for key, shape in self.input.shapes.items()},
                    **{head: len(shape) for head, shape in space.action_shapes.items()},
                }
            }

    def _find_route(self, actor_id):
        return next(iter(self._networks)), None

    def _input(self, observation: Mapping[str, Any], actor_id) -> dict[str, torch.Tensor]:
        observation = to_tensor_dict(observation, self.device)
        if actor_id is not None and self.input is not None:
            observation = self.input.complete(observation, actor_id)
        return observation


def common_action_space(action_spaces_dict: Mapping[Any, gym.spaces.Dict]) -> gym.spaces.Dict:
    """The one action space of all step keys (a shared state-action critic's); unequal ones are an error."""
    spaces = list(action_spaces_dict.items())
    first_key, first = spaces[0]
    for step_key, space in spaces[1:]:
        if space != first:
            raise ConfigurationError(
                f"a shared state-action critic needs one action space for all step keys, but step key "
                f"{first_key!r} has {first} and step key {step_key!r} has {space}; use "
                f"StepStateActionCriticComposer (one set of Q networks per step key)"
            )
    return first


def _module_list(key, networks) -> nn.ModuleList:
    nets = networks if isinstance(networks, nn.ModuleList) else None
    if nets is None:
        if isinstance(networks, nn.Module) or not isinstance(networks, Sequence) or not networks:
            raise ConfigurationError(
                f"state-action critic networks[{key!r}] must be a non-empty list of Q networks (one per "
                f"critic), got {type(networks).__name__}"
            )
        nets = nn.ModuleList(networks)
    if len({id(net) for net in nets}) != len(nets):
        raise ConfigurationError(
            f"state-action critic networks[{key!r}] holds the same module more than once; "
            f"each critic needs its own network"
        )
    return nets


# --- the base of state-action critic composers ----------------------------------------------------


class BaseStateActionCriticComposer(NetworkCriticComposer):
    """Base of state-action critic composers (the kernel tells by ``isinstance`` which kind of
    critic a composer builds). Checks the spaces, computes ``obs_shapes[step_key]`` and
    ``q_spaces[step_key]`` (:class:`QActionSpace`), and builds and checks Q networks.

    Q networks are built from a spec with ``obs_shapes=`` (and ``obs_spaces=`` where the
    constructor takes it) plus ``n_actions=`` for a Discrete head or ``action_shapes=`` (``{head:
    shape}``) for Box heads; each of the ``n_critics`` is built on its own, so twin critics start
    from independent initial weights. ``hidden_units`` and ``activation`` size the default Q networks
    (:func:`~maze_core.agent.composers.default_network_kwargs`).
    """

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        n_critics: int = 1,
        *,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
    ):
        self.default_network_kwargs = default_network_kwargs(hidden_units, activation)
        self.observation_spaces_dict = as_dict_spaces(observation_spaces_dict, "observation")
        self.action_spaces_dict = as_dict_spaces(action_spaces_dict, "action")
        if list(self.action_spaces_dict) != list(self.observation_spaces_dict):
            raise ConfigurationError(
                f"action_spaces_dict has step keys {list(self.action_spaces_dict)} but "
                f"observation_spaces_dict has {list(self.observation_spaces_dict)}; "
                f"both come from the same env"
            )
        if isinstance(n_critics, bool) or not isinstance(n_critics, int) or n_critics < 1:
            raise ConfigurationError(f"n_critics={n_critics!r}: must be an integer >= 1 (2 for twin critics)")
        self.n_critics = n_critics
        self.agent_counts_dict = agent_counts(agent_counts_dict, self.observation_spaces_dict)
        self.obs_shapes = {  # action masks are no input feature: they mask the greedy choice
            step_key: observation_shapes(without_masks(space, self.action_spaces_dict[step_key]), step_key)
            for step_key, space in self.observation_spaces_dict.items()
        }
        self.q_spaces = {
            step_key: QActionSpace(space, step_key) for step_key, space in self.action_spaces_dict.items()
        }

    def build_q_networks(
        self,
        spec: Any,
        obs_shapes: Mapping[str, Shape],
        obs_space: gym.spaces.Dict,
        q_space: QActionSpace,
        what: str,
        default: Any,
    ) -> nn.ModuleList:
        """``n_critics`` checked Q networks from one spec; an ``nn.ModuleList`` of ``n_critics``
        modules is taken as they are, as is a single module when ``n_critics`` is 1."""
        if isinstance(spec, nn.ModuleList):
            if len(spec) != self.n_critics:
                raise ConfigurationError(
                    f"{what}: a ModuleList of {len(spec)} networks for n_critics={self.n_critics}"
                )
            specs = list(spec)
        elif isinstance(spec, nn.Module) and self.n_critics > 1:
            raise ConfigurationError(
                f"{what}: one {type(spec).__name__} instance for n_critics={self.n_critics}; give a spec "
                f"(class, dotted path or {{'_target_': ...}}) so that each critic is built with its own "
                f"initial weights, or an nn.ModuleList of {self.n_critics} instances"
            )
        else:
            specs = [spec] * self.n_critics
        clash = sorted(set(obs_shapes) & set(q_space.action_shapes))
        if clash:
            raise ConfigurationError(
                f"{what}: the action heads {clash} are named like observation keys; a Q(s, a) network gets "
                f"both in one dict, so rename the heads or the observations"
            )
        shapes: dict[str, Any] = {"obs_shapes": dict(obs_shapes), "obs_spaces": obs_space}
        if q_space.is_discrete:
            shapes["n_actions"] = q_space.n_actions
            expected = {"q_values": (q_space.n_actions,)}
            head = q_space.discrete_head
            hint = f" (one Q-value per action of {head!r}: {q_space.space[head]})"
            sample_space = obs_space
        else:
            shapes["action_shapes"] = dict(q_space.action_shapes)
            expected = {"q_value": (1,)}
            hint = " (one Q-value per observation and action)"
            sample_space = gym.spaces.Dict({**obs_space.spaces, **q_space.space.spaces})
        networks = []
        for index, one_spec in enumerate(specs):
            name = f"{what}, critic {index}" if self.n_critics > 1 else what
            network = build_network(
                one_spec, shapes, default=default, what=name, default_kwargs=self.default_network_kwargs
            )
            check_network_outputs(
                network,
                sample_observation(sample_space, network_device(network)),
                expected,
                f"{name} ({type(network).__name__})",
                {key: hint for key in expected},
            )
            networks.append(network)
        return spec if isinstance(spec, nn.ModuleList) else nn.ModuleList(networks)

"""Composers build policies and critics from an env's spaces.

Besides the two interfaces, this module holds what every composer needs: turning network specs
into networks (:func:`build_network`, sized by :mod:`maze_core.agent.network_size`), checked with
a forward pass at construction (:mod:`maze_core.agent.network_checks`).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from maze_core._imports import import_object
from maze_core.agent.network_checks import (  # noqa: F401  (their home before the split)
    CHECK_BATCH_SIZE,
    check_network_outputs,
    sample_observation,
)
from maze_core.agent.network_size import OTHER_NAMES, check_not_layer_sizes, default_network_kwargs
from maze_core.agent.observations import Shape, as_dict_spaces, observation_shapes
from maze_core.distributions import DistributionMapper, SquashedGaussianProbabilityDistribution
from maze_core.distributions.masks import without_masks
from maze_core.errors import ConfigurationError, short_repr

# constructor arguments that some networks spell differently (the original tutorial's
# CartpolePolicyNet takes ``action_logit_shapes``)
_ARGUMENT_ALIASES = {"action_logits_shapes": ("action_logit_shapes",)}
#: passed only to networks whose constructor names them (e.g. the default nets one-hot encode
#: Discrete observations from ``obs_spaces``)
_OPTIONAL_ARGUMENTS = frozenset({"obs_spaces"})


class BasePolicyComposer(ABC):
    """Builds a policy for an env's spaces; :attr:`policy` returns it.

    Computes what policy networks are built with: ``obs_shapes[step_key]`` (``{obs_key: shape}``)
    and ``action_logits_shapes[step_key]`` (``{head: logits shape}``, from the distribution
    mapper). Without a ``distribution_mapper``, one over all step keys' action heads is used, with
    squashed Gaussians for bounded Box heads (:func:`default_distribution_config`);
    ``agent_counts_dict`` defaults to one agent per step key. ``hidden_units`` and ``activation``
    size the default networks, ``recurrent`` ("lstm", "gru") gives them memory
    (:func:`default_network_kwargs`).

    An observation that is an action head's mask (``<head>_mask``, see
    :mod:`maze_core.distributions.masks`) is checked against the head and left out of
    ``obs_shapes``, so default networks do not take it as a feature, unless
    ``action_masks_as_features``; the policy applies it to the logits either way.
    """

    def __init__(
        self,
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        distribution_mapper: DistributionMapper | None = None,
        action_masks_as_features: bool = False,
        *,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
        recurrent: str | None = None,
    ):
        self.default_network_kwargs = default_network_kwargs(hidden_units, activation, recurrent)
        self.action_spaces_dict = as_dict_spaces(action_spaces_dict, "action")
        self.observation_spaces_dict = as_dict_spaces(observation_spaces_dict, "observation")
        if list(self.action_spaces_dict) != list(self.observation_spaces_dict):
            raise ConfigurationError(
                f"action_spaces_dict has step keys {list(self.action_spaces_dict)} but "
                f"observation_spaces_dict has {list(self.observation_spaces_dict)}; "
                f"both come from the same env"
            )
        self.agent_counts_dict = agent_counts(agent_counts_dict, self.observation_spaces_dict)
        if distribution_mapper is None:
            action_space = merged_action_space(self.action_spaces_dict)
            distribution_mapper = DistributionMapper(action_space, default_distribution_config(action_space))
        self.distribution_mapper = distribution_mapper
        self.obs_shapes = {}
        for step_key, space in self.observation_spaces_dict.items():
            inputs = without_masks(space, self.action_spaces_dict[step_key])  # checks the masks
            self.obs_shapes[step_key] = observation_shapes(
                space if action_masks_as_features else inputs, step_key
            )
        self.action_logits_shapes = {
            step_key: self._logits_shapes(step_key, space)
            for step_key, space in self.action_spaces_dict.items()
        }

    @property
    def step_keys(self) -> list:
        return list(self.action_spaces_dict)

    @property
    @abstractmethod
    def policy(self):
        """The policy (a ``TorchPolicy``) over this composer's networks."""

    def _logits_shapes(self, step_key, space: gym.spaces.Dict) -> dict[str, Shape]:
        mapper = self.distribution_mapper
        shapes = {}
        for head, head_space in space.spaces.items():
            if head not in mapper.action_space.spaces:
                raise ConfigurationError(
                    f"the distribution mapper has no action head {head!r} (of step key {step_key!r}); it "
                    f"has {mapper.action_heads}. Build it from an action space holding every step key's "
                    f"heads, e.g. DistributionMapper(action_space=env.action_space) for a single-step env"
                )
            if mapper.action_space[head] != head_space:
                raise ConfigurationError(
                    f"action head {head!r} of step key {step_key!r} is {head_space} in the env but "
                    f"{mapper.action_space[head]} in the distribution mapper; "
                    f"build the mapper from the env's space"
                )
            shapes[head] = mapper.required_logits_shape(head)
        return shapes


class CriticComposerInterface(ABC):
    """Builds a critic for an env's spaces; :attr:`critic` returns it."""

    @property
    @abstractmethod
    def critic(self):
        """The critic (a ``TorchStateCritic``, or a ``TorchStateActionCritic`` for a
        ``BaseStateActionCriticComposer``) over this composer's networks."""


class NetworkCriticComposer(CriticComposerInterface, ABC):
    """What the built-in critic composers share: networks by step key, built once, and the critic
    over them made on first access (``observation_spaces_dict`` and ``_networks`` set by the
    subclass)."""

    observation_spaces_dict: dict
    _networks: dict
    _critic = None

    @property
    def step_keys(self) -> list:
        return list(self.observation_spaces_dict)

    @property
    def networks(self) -> dict[Any, nn.Module]:
        """The networks by step key (a shared critic's: key 0); a state-action critic's are
        ``nn.ModuleList``s of its ``n_critics``."""
        return self._networks

    @property
    def critic(self):
        """The critic over this composer's networks (the same object on every access)."""
        if self._critic is None:
            self._critic = self._build_critic()
        return self._critic

    @abstractmethod
    def _build_critic(self):
        """The critic over ``self._networks``."""


class BaseStateCriticComposer(NetworkCriticComposer):
    """Base of state critic composers: checks the spaces and computes ``obs_shapes[step_key]``;
    ``hidden_units`` and ``activation`` size the default networks, ``recurrent`` ("lstm", "gru")
    gives them memory (:func:`default_network_kwargs`)."""

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        *,
        hidden_units: Sequence[int] | None = None,
        activation: str | type[nn.Module] | None = None,
        recurrent: str | None = None,
    ):
        self.default_network_kwargs = default_network_kwargs(hidden_units, activation, recurrent)
        self.observation_spaces_dict = as_dict_spaces(observation_spaces_dict, "observation")
        self.agent_counts_dict = agent_counts(agent_counts_dict, self.observation_spaces_dict)
        self.obs_shapes = {
            step_key: observation_shapes(space, step_key)
            for step_key, space in self.observation_spaces_dict.items()
        }


# --- what an override of a default network's setting is called -------------------------------


def _hint_for(cls, name: str) -> str:
    """For an override ``<kind>.<name>`` that ``cls`` lacks: what it calls another library's name
    of a default-network setting, or, for a composer without default networks (``q_greedy``),
    where to set them (``check_field`` shows it)."""
    from maze_core.overrides import settable_fields

    ours = OTHER_NAMES.get(name, name)
    if ours not in ("hidden_units", "activation"):
        return ""
    if ours in settable_fields(cls):
        return f" {cls.__name__} calls it {ours}."
    return (
        f" {cls.__name__} builds no default networks (q_greedy acts with its critic's): set "
        f"critic.{ours}, or model.{ours} for every default network."
    )


BasePolicyComposer.hint_for = classmethod(_hint_for)
CriticComposerInterface.hint_for = classmethod(_hint_for)


# --- helpers for composers ------------------------------------------------------------------------


def agent_counts(
    agent_counts_dict: Mapping[Any, int] | None, spaces_dict: Mapping[Any, Any]
) -> dict[Any, int]:
    """``{step_key: number of agents}`` (-1: dynamic), one agent per step key where not given."""
    counts = dict(agent_counts_dict or {})
    unknown = [key for key in counts if key not in spaces_dict]
    if unknown:
        raise ConfigurationError(
            f"agent_counts_dict has step keys {unknown} the env does not have "
            f"(its step keys: {list(spaces_dict)})"
        )
    return {step_key: int(counts.get(step_key, 1)) for step_key in spaces_dict}


def merged_action_space(action_spaces_dict: Mapping[Any, gym.spaces.Dict]) -> gym.spaces.Dict:
    """One Dict space holding every step key's action heads (a head must be the same space everywhere)."""
    heads: dict[str, gym.Space] = {}
    for step_key, space in action_spaces_dict.items():
        for head, head_space in space.spaces.items():
            if head in heads and heads[head] != head_space:
                raise ConfigurationError(
                    f"action head {head!r} is {heads[head]} in one step key and {head_space} in step key "
                    f"{step_key!r}; give the heads of different steps different names"
                )
            heads[head] = head_space
    return gym.spaces.Dict(heads)


def default_distribution_config(action_space: gym.spaces.Dict) -> list[dict[str, Any]]:
    """The mapper config composers use when given no mapper: squashed Gaussians for bounded Box
    heads (so actions respect the bounds, as the original Maze's default model did); everything
    else keeps the mapper's defaults (an unbounded Box: diagonal Gaussian)."""
    return [
        {"action_head": head, "distribution": SquashedGaussianProbabilityDistribution}
        for head, space in action_space.spaces.items()
        if isinstance(space, gym.spaces.Box)
        and np.all(np.isfinite(space.low))
        and np.all(np.isfinite(space.high))
    ]


def network_specs(networks: Any, step_keys: list, extra_keys: list = ()) -> dict[Any, Any]:
    """Normalise a composer's ``networks`` argument to ``{key: spec or module or None}``.

    ``networks`` is None (defaults everywhere), a list (index = step key), a dict keyed by step key
    (or by any of ``extra_keys``), or, for a single step key, one spec or module.
    """
    if networks is None:
        return {}
    check_not_layer_sizes(networks, "networks")
    if isinstance(networks, nn.Module | str) or callable(networks) or _is_target_dict(networks):
        if len(step_keys) != 1:
            raise ConfigurationError(
                f"networks is a single network but the env has step keys {step_keys}; give a list or a dict "
                f"with one entry per step key"
            )
        return {step_keys[0]: networks}
    if isinstance(networks, list | tuple):
        networks = dict(enumerate(networks))
    if not isinstance(networks, Mapping):
        raise ConfigurationError(
            f"networks must be a list (index = step key) or a dict keyed by step key, "
            f"got {type(networks).__name__}"
        )
    valid = [*step_keys, *extra_keys]
    unknown = [key for key in networks if key not in valid]
    if unknown:
        raise ConfigurationError(
            f"networks has entries for {unknown}, which are not step keys of the env ({step_keys})"
        )
    missing = [
        key for key in step_keys if key not in networks and not any(_belongs(k, key) for k in networks)
    ]
    if missing:
        raise ConfigurationError(
            f"networks has no entry for step keys {missing} (it has {list(networks)}); "
            f"give one per step key, None for the default network"
        )
    return dict(networks)


def _belongs(key, step_key) -> bool:
    return isinstance(key, tuple) and len(key) == 2 and key[0] == step_key


def _is_target_dict(spec: Any) -> bool:
    return isinstance(spec, Mapping) and "_target_" in spec


def build_network(
    spec: Any,
    shape_kwargs: Mapping[str, Any],
    default: Callable,
    what: str,
    default_kwargs: Mapping[str, Any] | None = None,
) -> nn.Module:
    """A network from a spec: an ``nn.Module`` is used as it is; None builds ``default`` (with
    ``default_kwargs``, a composer's :func:`default_network_kwargs`); a class, factory or dotted
    path is called with ``shape_kwargs``; ``{"_target_": ..., **kwargs}`` is called with its kwargs
    plus ``shape_kwargs``. Sizing the default networks while giving another is an error."""
    if spec is not None and default_kwargs:
        given = ", ".join(f"{'activation' if k == 'non_lin' else k}=" for k in default_kwargs)
        raise ConfigurationError(
            f"{what}: {given} sizes the default networks, but this one is given ({short_repr(spec)}); "
            f"pass its size to it instead, e.g. {{'_target_': ..., 'hidden_units': [64, 64]}}"
        )
    if isinstance(spec, nn.Module):
        return spec
    kwargs: dict[str, Any] = {}
    if spec is None:
        kwargs = dict(default_kwargs or {})
        factory = default
        if "recurrent" in kwargs:
            from maze_core.perception.recurrent import default_network

            factory = default_network(default, kwargs.pop("recurrent"))
    elif _is_target_dict(spec):
        kwargs = {k: v for k, v in spec.items() if k != "_target_"}
        factory = spec["_target_"]
    else:
        factory = spec
    if isinstance(factory, str):
        factory = import_object(factory, f"{what} ({factory})", kind=nn.Module)
    if not callable(factory):
        raise ConfigurationError(
            f"{what}: {spec!r} is not a network; give an nn.Module, a network class, a dotted path to "
            f"one, or {{'_target_': class, **kwargs}}"
        )
    name = getattr(factory, "__name__", repr(factory))
    kwargs = {**_shape_arguments(factory, shape_kwargs, kwargs, f"{what} ({name})"), **kwargs}
    try:
        network = factory(**kwargs)
    except ConfigurationError:
        raise  # already says what is wrong (e.g. a refused activation)
    except Exception as error:
        raise ConfigurationError(
            f"building {what} with {name}(**{sorted(kwargs)}) failed: {error!r}"
        ) from error
    if not isinstance(network, nn.Module):
        raise ConfigurationError(
            f"{what}: {name}(...) returned a {type(network).__name__}, not a torch.nn.Module"
        )
    return network


def _shape_arguments(factory: Callable, shape_kwargs: Mapping[str, Any], given: Mapping[str, Any], what: str):
    """The shape arguments under the names ``factory`` accepts (user-given kwargs take precedence)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature to inspect: pass the standard names
        return {k: v for k, v in shape_kwargs.items() if k not in given}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    arguments = {}
    for name, value in shape_kwargs.items():
        names = (name, *_ARGUMENT_ALIASES.get(name, ()))
        if any(n in given for n in names):
            continue
        accepted = next((n for n in names if n in parameters), name if takes_any else None)
        if name in _OPTIONAL_ARGUMENTS and name not in parameters:
            continue
        if accepted is None:
            raise ConfigurationError(
                f"{what} does not take the argument {name!r}; networks are built with "
                f"{', '.join(f'{k}=' for k in shape_kwargs)}: add it to the constructor, or pass an instance"
            )
        arguments[accepted] = value
    return arguments


def network_device(network: nn.Module) -> torch.device:
    parameter = next(network.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")

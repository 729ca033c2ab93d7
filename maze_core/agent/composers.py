"""Composers build policies and critics from an env's spaces.

Besides the two interfaces, this module holds what every composer needs: turning network specs
into networks, and checking each network with a forward pass at construction, so that a wrong
network fails before training starts, with a message naming the network and the step key.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from maze_core._imports import import_object
from maze_core.agent.observations import Shape, as_dict_spaces, observation_shapes, to_tensor_dict
from maze_core.distributions import DistributionMapper, SquashedGaussianProbabilityDistribution
from maze_core.errors import ConfigurationError

#: batch size of the sampled observations networks are checked with
CHECK_BATCH_SIZE = 2

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
    ``agent_counts_dict`` defaults to one agent per step key.
    """

    def __init__(
        self,
        action_spaces_dict: Mapping[Any, gym.spaces.Dict],
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
        distribution_mapper: DistributionMapper | None = None,
    ):
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
        self.obs_shapes = {
            step_key: observation_shapes(space, step_key)
            for step_key, space in self.observation_spaces_dict.items()
        }
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
    """Base of state critic composers: checks the spaces and computes ``obs_shapes[step_key]``."""

    def __init__(
        self,
        observation_spaces_dict: Mapping[Any, gym.spaces.Dict],
        agent_counts_dict: Mapping[Any, int] | None = None,
    ):
        self.observation_spaces_dict = as_dict_spaces(observation_spaces_dict, "observation")
        self.agent_counts_dict = agent_counts(agent_counts_dict, self.observation_spaces_dict)
        self.obs_shapes = {
            step_key: observation_shapes(space, step_key)
            for step_key, space in self.observation_spaces_dict.items()
        }



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


def build_network(spec: Any, shape_kwargs: Mapping[str, Any], default: Callable, what: str) -> nn.Module:
    """A network from a spec: an ``nn.Module`` is used as it is; None builds ``default``; a class,
    factory or dotted path is called with ``shape_kwargs``; ``{"_target_": ..., **kwargs}`` is
    called with its kwargs plus ``shape_kwargs``."""
    if isinstance(spec, nn.Module):
        return spec
    kwargs: dict[str, Any] = {}
    if spec is None:
        factory = default
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


def sample_observation(
    space: gym.spaces.Dict,
    device: torch.device | str = "cpu",
    stack_counts: Mapping[str, int] | None = None,
    batch_size: int = CHECK_BATCH_SIZE,
) -> dict[str, torch.Tensor]:
    """A batch of random observations from ``space`` (a seeded copy of it, leaving the env's space's
    random state alone); keys in ``stack_counts`` get that many observations stacked after the batch dim."""
    space = copy.deepcopy(space)
    space.seed(0)
    stack_counts = stack_counts or {}
    observation = {
        key: np.stack([_draw(sub_space, stack_counts.get(key, 1)) for _ in range(batch_size)])
        for key, sub_space in space.spaces.items()
    }
    return to_tensor_dict(observation, torch.device(device))


def _draw(space: gym.Space, n: int):
    return np.stack([space.sample() for _ in range(n)]) if n > 1 else space.sample()


def check_network_outputs(
    network: nn.Module,
    observation: Mapping[str, torch.Tensor],
    expected: Mapping[str, Shape],
    what: str,
    hints: Mapping[str, str] | None = None,
) -> None:
    """Run ``network`` on a sampled batch and compare its outputs with ``expected`` (``{key: shape}``);
    ``hints`` say per key why that shape is expected.

    The network runs in eval mode without gradients, so the check leaves no trace (no batch-norm
    statistics, no autograd graph).
    """
    batch = next(iter(observation.values())).shape[0] if observation else CHECK_BATCH_SIZE
    described = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in observation.items())
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            output = network(dict(observation))
    except Exception as error:
        raise ConfigurationError(
            f"{what} failed on a sampled batch of {batch} observations ({described}): "
            f"{type(error).__name__}: {error}"
        ) from error
    finally:
        network.train(was_training)
    if not isinstance(output, Mapping):
        raise ConfigurationError(
            f"{what} returned a {type(output).__name__}; it must return a dict with keys {list(expected)}"
        )
    missing = [key for key in expected if key not in output]
    extra = [key for key in output if key not in expected]
    if missing or extra:
        problems = "; ".join(
            part
            for part in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "")
            if part
        )
        raise ConfigurationError(
            f"{what} returned keys {list(output)} but must return exactly {list(expected)} ({problems})"
        )
    for key, shape in expected.items():
        value = output[key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != (batch, *shape):
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ConfigurationError(
                f"{what} returned {key!r} of shape {got} for a batch of {batch} observations ({described}); "
                f"expected {(batch, *shape)}, i.e. {shape} per observation{(hints or {}).get(key, '')}"
            )


def network_device(network: nn.Module) -> torch.device:
    parameter = next(network.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")

"""Which distribution each action head uses, and the logits it needs."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym
import torch

from maze_core._imports import import_object
from maze_core.distributions.base import ProbabilityDistribution
from maze_core.distributions.bernoulli import BernoulliProbabilityDistribution
from maze_core.distributions.categorical import (
    CategoricalProbabilityDistribution,
    MultiCategoricalProbabilityDistribution,
)
from maze_core.distributions.dict_distribution import DictProbabilityDistribution
from maze_core.distributions.gaussian import DiagonalGaussianProbabilityDistribution
from maze_core.errors import ConfigurationError

_ENTRY_KEYS = {"action_space", "action_head", "distribution", "args"}


class DistributionMapper:
    """Maps every action head of a Dict action space to a probability distribution.

    Defaults by space type: Discrete → categorical, Box → diagonal Gaussian, MultiBinary →
    Bernoulli, MultiDiscrete → multi-categorical. ``distribution_mapper_config`` is a list of
    entries, applied in order (a later entry wins over an earlier one for the heads both match)::

        {"action_space": gymnasium.spaces.Box, "distribution": "squashed_gaussian"}
        {"action_head": "steer", "distribution": MyDistribution, "args": {"alpha": 0.5}}

    ``action_space`` is a space class or its dotted path and matches every head whose space is an
    instance of it; ``distribution`` is a ``ProbabilityDistribution`` subclass, its dotted path or
    a registered distribution name; ``args`` are extra constructor arguments. ``{}``, ``[]`` and
    ``()`` mean defaults only. Paths of the original Maze (``maze.distributions.*``) and of ``gym``
    (``gym.spaces.*``) are accepted and mapped to ours.

    A non-Dict ``action_space`` is treated as ``Dict(action=action_space)``, as GymMazeEnv does.
    """

    default_distributions: Mapping[type[gym.Space], type[ProbabilityDistribution]] = {
        gym.spaces.Discrete: CategoricalProbabilityDistribution,
        gym.spaces.Box: DiagonalGaussianProbabilityDistribution,
        gym.spaces.MultiBinary: BernoulliProbabilityDistribution,
        gym.spaces.MultiDiscrete: MultiCategoricalProbabilityDistribution,
    }

    def __init__(self, action_space: gym.spaces.Dict | gym.Space, distribution_mapper_config: Any = ()):
        self.action_space = _as_dict_space(action_space)
        self.distribution_mapper_config = _config_entries(distribution_mapper_config)
        heads = self.action_space.spaces
        self._default_classes = {head: self._default_for(space) for head, space in heads.items()}
        self._choice: dict[str, tuple[type[ProbabilityDistribution] | None, dict]] = {
            head: (cls, {}) for head, cls in self._default_classes.items()
        }
        for index, entry in enumerate(self.distribution_mapper_config):
            self._apply(index, entry)
        self._factories = {}
        for head, (cls, args) in self._choice.items():
            self._check(head, heads[head], cls, args)
            self._factories[head] = (cls, heads[head], args)
        self._logits_shapes = {
            head: tuple(int(d) for d in cls.required_logits_shape(space))
            for head, (cls, space, _) in self._factories.items()
        }

    @property
    def action_heads(self) -> list[str]:
        return list(self._factories)

    def distribution_class(self, head: str) -> type[ProbabilityDistribution]:
        return self._factory(head)[0]

    def required_logits_shape(self, head: str) -> tuple[int, ...]:
        """Shape of the logits (per sample) the policy network must return for ``head``."""
        self._factory(head)
        return self._logits_shapes[head]

    def action_head_distribution(
        self, head: str, logits: torch.Tensor, temperature: float = 1.0
    ) -> ProbabilityDistribution:
        cls, space, args = self._factory(head)
        return cls(logits, space, temperature, **args)

    def logits_dict_to_distribution(
        self, logits_dict: Mapping[str, torch.Tensor], temperature: float = 1.0
    ) -> DictProbabilityDistribution:
        """The joint distribution over the heads in ``logits_dict`` (``{head: logits}``)."""
        distributions = {}
        for head, logits in logits_dict.items():
            factory = self._factories.get(head)
            if factory is None:
                raise KeyError(
                    f"logits for unknown action head {head!r}; the action heads are {self.action_heads}"
                )
            cls, space, args = factory
            distributions[head] = cls(logits, space, temperature, **args)
        return DictProbabilityDistribution(distributions)

    def _factory(self, head: str):
        try:
            return self._factories[head]
        except KeyError:
            raise KeyError(f"no action head {head!r}; the action heads are {self.action_heads}") from None

    def _default_for(self, space: gym.Space) -> type[ProbabilityDistribution] | None:
        for space_type, cls in self.default_distributions.items():
            if isinstance(space, space_type):
                return cls
        return None

    def _apply(self, index: int, entry: Mapping[str, Any]) -> None:
        where = f"distribution_mapper_config[{index}]"
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise ConfigurationError(
                f"{where} has unknown keys {sorted(unknown)}; allowed are {sorted(_ENTRY_KEYS)}"
            )
        if "distribution" not in entry:
            raise ConfigurationError(f"{where} = {dict(entry)} names no 'distribution'")
        if ("action_space" in entry) == ("action_head" in entry):
            raise ConfigurationError(
                f"{where} = {dict(entry)} must have exactly one of 'action_space' (a space class) or "
                f"'action_head' (a head name)"
            )
        cls = resolve_distribution(entry["distribution"])
        args = dict(entry.get("args") or {})
        heads = self.action_space.spaces
        if "action_head" in entry:
            head = entry["action_head"]
            if head not in heads:
                raise ConfigurationError(
                    f"{where} names action head {head!r}; the action heads are {list(heads)}"
                )
            self._choice[head] = (cls, args)
        else:
            space_type = _resolve_space_type(entry["action_space"], where)
            for head, space in heads.items():
                if isinstance(space, space_type):
                    self._choice[head] = (cls, args)

    @staticmethod
    def _check(head: str, space: gym.Space, cls: type[ProbabilityDistribution] | None, args: dict) -> None:
        remedy = (
            f"map it to a distribution that handles it with distribution_mapper_config="
            f"[{{'action_head': {head!r}, 'distribution': ...}}]"
        )
        if cls is None:
            if isinstance(space, gym.spaces.Dict | gym.spaces.Tuple):
                raise ConfigurationError(
                    f"action head {head!r} has a nested {type(space).__name__} space ({space}); no "
                    f"standard distribution handles nested spaces: make each sub-space its own action "
                    f"head, or {remedy}"
                )
            raise ConfigurationError(
                f"action head {head!r} has a {type(space).__name__} space ({space}) with no "
                f"default distribution; {remedy}"
            )
        try:
            cls.check_action_space(space)
        except ConfigurationError as error:
            raise ConfigurationError(f"action head {head!r} ({space}): {error}; {remedy}") from None
        try:
            inspect.signature(cls).bind(None, space, 1.0, **args)
        except TypeError as error:
            raise ConfigurationError(
                f"action head {head!r}: {cls.__name__} does not accept the args {args}: {error}"
            ) from None

    def __repr__(self) -> str:
        lines = []
        for head, (cls, space, args) in self._factories.items():
            line = f"  {head}: {space} -> {cls.__name__}, logits {self._logits_shapes[head]}"
            if args:
                line += f", args {args}"
            default = self._default_classes[head]
            if default is not cls and default is not None:
                line += f" (default: {default.__name__})"
            lines.append(line)
        return "DistributionMapper(\n" + "\n".join(lines) + "\n)"


def resolve_distribution(spec: Any) -> type[ProbabilityDistribution]:
    """A distribution class from a class, a dotted path or a registered name (e.g. ``"categorical"``)."""
    if isinstance(spec, str):
        if "." in spec or ":" in spec:
            obj = import_object(spec, "distribution", kind=ProbabilityDistribution)
        else:
            from maze_core import plugins

            obj = plugins.load("distribution", spec)
    else:
        obj = spec
    if not (isinstance(obj, type) and issubclass(obj, ProbabilityDistribution)):
        raise ConfigurationError(
            f"distribution {spec!r} is not a ProbabilityDistribution subclass; give a class, its dotted path "
            f"or a registered name such as 'categorical'"
        )
    return obj


def _resolve_space_type(spec: Any, where: str) -> type[gym.Space]:
    obj = import_object(spec, "action space", kind=gym.Space) if isinstance(spec, str) else spec
    if not (isinstance(obj, type) and issubclass(obj, gym.Space)):
        raise ConfigurationError(
            f"{where}: action_space={spec!r} is not a gymnasium space class such as gymnasium.spaces.Box"
        )
    return obj


def _as_dict_space(space: Any) -> gym.spaces.Dict:
    if isinstance(space, gym.spaces.Dict):
        return space
    if isinstance(space, gym.Space):
        return gym.spaces.Dict({"action": space})
    if isinstance(space, Mapping) and all(isinstance(s, gym.Space) for s in space.values()):
        return gym.spaces.Dict(dict(space))
    raise ConfigurationError(
        f"action_space must be a gymnasium Dict space (one entry per action head), got {space!r}"
    )


def _config_entries(config: Any) -> list[Mapping[str, Any]]:
    if config is None:
        return []
    if isinstance(config, Mapping):  # a single entry, or {} for defaults
        config = [config] if config else []
    if not isinstance(config, Iterable) or isinstance(config, str):
        raise ConfigurationError(f"distribution_mapper_config must be a list of entries, got {config!r}")
    entries = list(config)
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigurationError(
                f"distribution_mapper_config[{index}] = {entry!r} is not a dict like "
                f"{{'action_space': gymnasium.spaces.Box, 'distribution': 'squashed_gaussian'}}"
            )
    return entries

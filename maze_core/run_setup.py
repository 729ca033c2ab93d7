"""Resolving what a :class:`~maze_core.run_context.RunContext` is given: names or instances of an
algorithm, composers and a runner, overrides, wrappers and a seed, each checked at once so that a
typo fails before anything is built; and building the model from the composers, measured before
any weight is allocated.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, NamedTuple

import attrs

from maze_core import plugins
from maze_core.errors import ConfigurationError, PluginError, short_repr
from maze_core.overrides import check_field, settable_fields
from maze_core.training.config import AlgorithmConfig

DEFAULT_POLICY = "probabilistic"
DEFAULT_CRITIC = "step_state"
OVERRIDE_SECTIONS = ("algorithm", "policy", "critic", "runner", "model")
#: the default networks' settings, in the policy and critic composers that build default networks
NETWORK_SIZE_FIELDS = ("hidden_units", "activation")


def checked_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigurationError(f"seed={seed!r} is invalid: it must be an integer in [0, 2**32 - 1]")
    return seed


def check_target_return(target_return: Any) -> None:
    is_number = isinstance(target_return, (int, float)) and not isinstance(target_return, bool)
    if target_return is not None and not (is_number and math.isfinite(target_return)):
        raise ConfigurationError(
            f"target_return={target_return!r} is invalid: it must be a finite number, or None for no target"
        )


def split_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"algorithm.lr": 1e-3}`` -> ``{"algorithm": {"lr": 1e-3}}``; unknown sections are errors."""
    split: dict[str, dict[str, Any]] = {}
    for path, value in overrides.items():
        section, _, key = str(path).partition(".")
        if section not in OVERRIDE_SECTIONS or not key or "." in key:
            raise ConfigurationError(
                f"override {path!r}: write it as '<section>.<field>', "
                f"with section one of {', '.join(OVERRIDE_SECTIONS)}"
            )
        split.setdefault(section, {})[key] = value
    return split


def resolve_algorithm(algorithm, changes: dict[str, Any], device: str | None):
    if isinstance(algorithm, str):
        name, config = algorithm, plugins.load("algorithm", algorithm)()
    elif isinstance(algorithm, AlgorithmConfig):
        config = algorithm
        name = registered_name("algorithm", type(algorithm))
    else:
        raise ConfigurationError(
            f"algorithm={algorithm!r}: give a registered algorithm name "
            f"({', '.join(plugins.names('algorithm'))}) or an AlgorithmConfig instance"
        )
    check_algorithm_fits(name, config)
    if device is not None:
        changes = {**changes, "device": device}
    for key in changes:
        check_field(f"algorithm.{key}", type(config), key)
    # evolve() builds a new config (validators run again) and leaves the user's instance untouched
    return name, attrs.evolve(config, **changes) if changes else config


def check_algorithm_fits(name: str, config: AlgorithmConfig) -> None:
    """Refuse, before the run is built, an algorithm written against another algorithm API: its
    trainer must be a kernel :class:`~maze_core.training.trainer.Trainer`, and its config an
    instance of the config class that trainer reads. One line names the plugin and what it lacks."""
    from maze_core._imports import import_object, only_installed_code
    from maze_core.training.config import ALGORITHM_API_VERSION
    from maze_core.training.trainer import Trainer

    with only_installed_code(None):  # the path is the registered class's, not a run file's
        trainer_class = import_object(config.trainer_class, what=f"the trainer of algorithm {name!r}")
    if not (isinstance(trainer_class, type) and issubclass(trainer_class, Trainer)):
        problem = f"its trainer {config.trainer_class} is not a maze_core.training.Trainer"
    else:
        required = getattr(trainer_class, "config_class", AlgorithmConfig)
        if isinstance(config, required):
            return
        missing = sorted(set(attrs.fields_dict(required)) - set(attrs.fields_dict(type(config))))
        problem = f"its {type(config).__name__} does not derive from {required.__name__}"
        if missing:
            problem += f" and lacks {', '.join(missing)}"
    distribution = plugins.distribution_of("algorithm", name)
    where = f" of plugin {distribution!r}" if distribution else ""
    raise PluginError(
        f"algorithm {name!r}{where} was written for another Maze algorithm API than this one "
        f"(version {ALGORITHM_API_VERSION}): {problem}; update the plugin (what changed: the "
        "changelog for plugin authors, docs/plugin-changelog.md)"
    )


def registered_name(kind: str, cls) -> str:
    """The name ``cls`` is registered under (for run directories and the config), else its class name."""
    return plugins.registered_name(kind, cls) or cls.__name__


class ComposerChoice(NamedTuple):
    """A policy or critic composer as a RunContext was given it: a registered ``name`` to build
    with ``kwargs`` once the env's spaces are known, or a ready ``composer`` (and its name)."""

    kind: str
    name: str
    composer: Any
    kwargs: dict[str, Any]

    def composer_class(self) -> type:
        return type(self.composer) if self.composer is not None else plugins.load(self.kind, self.name)

    def acts_on_state_action(self) -> bool:
        """Whether this critic composer builds state-action critics (Q), rather than state critics."""
        from maze_core.agent.q_critics import BaseStateActionCriticComposer

        return issubclass(self.composer_class(), BaseStateActionCriticComposer)

    def built(self, spaces: dict[str, Any], critic=None):
        """The composer: the given one, or the registered one built for the env's ``spaces`` (a
        policy composer that acts through the critic, such as ``q_greedy``, gets ``critic``)."""
        if self.composer is not None:
            return self.composer
        kwargs = self.kwargs
        if self.kind == "critic" and not self.acts_on_state_action():
            from maze_core.distributions.masks import without_masks

            spaces = {  # a state critic gets no action masks: they describe the actions, not the state
                "observation_spaces_dict": {
                    step_key: without_masks(space, spaces["action_spaces_dict"][step_key])
                    for step_key, space in spaces["observation_spaces_dict"].items()
                },
                "agent_counts_dict": spaces["agent_counts_dict"],
            }
        if self.kind == "policy" and "critic" in inspect.signature(self.composer_class()).parameters:
            kwargs = {**kwargs, "critic": critic}
        return built_composer(self.kind, self.name, spaces, kwargs)

    def recorded(self) -> dict[str, Any]:
        """For the resolved config: the name and the constructor arguments as plain values."""
        kwargs = {key: value if _is_plain(value) else repr(value) for key, value in self.kwargs.items()}
        return {"name": self.name, **kwargs}


def _is_plain(value: Any) -> bool:
    """A JSON value: None, a bool, number or string, or a list of them (``hidden_units``)."""
    if isinstance(value, list | tuple):
        return all(_is_plain(item) for item in value)
    return isinstance(value, bool | int | float | str | type(None))


class ModelDefaults(NamedTuple):
    """The policy and critic composers an algorithm learns with unless told otherwise, and their
    default arguments (e.g. DQN: ``q_greedy`` over a ``step_state_action`` Q critic; SAC: twin
    critics and a squashed Gaussian)."""

    policy: str
    critic: str
    policy_kwargs: dict[str, Any]
    critic_kwargs: dict[str, Any]


def composer_defaults(config_class: type) -> ModelDefaults:
    """The :class:`ModelDefaults` an algorithm's config class declares."""
    if not issubclass(config_class, AlgorithmConfig):  # refused later, by check_algorithm_fits
        return ModelDefaults(DEFAULT_POLICY, DEFAULT_CRITIC, {}, {})
    return ModelDefaults(
        config_class.default_policy,
        config_class.default_critic,
        dict(config_class.default_policy_kwargs),
        dict(config_class.default_critic_kwargs),
    )


def resolve_model(policy, critic, config_class: type, overrides: dict[str, dict[str, Any]]):
    """The policy and critic composers of a run (:func:`resolve_composer`), each with, in increasing
    precedence, the algorithm's arguments for its default composers, the ``model`` section's
    settings (where the composer takes them) and the part's own overrides; pops those sections
    from ``overrides``."""
    from maze_core.agent.network_size import DefaultNetworks, check_not_layer_sizes

    defaults = composer_defaults(config_class)
    model = overrides.pop("model", {})
    for key in model:
        check_field(f"model.{key}", DefaultNetworks, key)
    choices, takers = [], {key: [] for key in model}
    for kind, value, default, default_kwargs in (
        ("policy", policy, defaults.policy, defaults.policy_kwargs),
        ("critic", critic, defaults.critic, defaults.critic_kwargs),
    ):
        kwargs = overrides.pop(kind, {})
        if "networks" in kwargs:
            check_not_layer_sizes(kwargs["networks"], f"{kind}.networks")
        if value is None or isinstance(value, str):
            fields = settable_fields(plugins.load(kind, value or default))
            shared = {key: item for key, item in model.items() if key in fields}
            for key in shared:
                takers[key].append(kind)
            # the algorithm's composers come with its arguments for them, under the user's overrides
            kwargs = {**(default_kwargs if value is None else {}), **shared, **kwargs}
        choices.append(resolve_composer(kind, value, default, kwargs))
    unused = [key for key, kinds in takers.items() if not kinds]
    if unused:
        raise ConfigurationError(
            f"model.{unused[0]}: neither the policy nor the critic composer takes {unused[0]} (composer "
            f"instances, or composers without default networks); size their networks yourself"
        )
    return tuple(choices)


def check_parts_fit(algorithm_name: str, config: AlgorithmConfig, critic: ComposerChoice) -> None:
    """Refuse, before anything is built, a critic of another kind than the algorithm learns with
    (a state-value critic for DQN, a Q critic for PPO), in one line naming the fitting default."""
    wanted = getattr(type(config), "critic_kind", "state")
    given = "state_action" if critic.acts_on_state_action() else "state"
    if given != wanted:
        default = composer_defaults(type(config))[1]
        describe = {"state": "state-value critic V(s)", "state_action": "state-action critic Q(s, a)"}
        raise ConfigurationError(
            f"algorithm {algorithm_name!r} learns with a {describe[wanted]}, but critic {critic.name!r} "
            f"builds a {describe[given]}: use critic {default!r} (the algorithm's default) or another "
            f"{describe[wanted]} composer"
        )


def resolve_composer(kind: str, value, default: str, kwargs: dict[str, Any]) -> ComposerChoice:
    """The policy or critic composer a RunContext is given, checked (an unknown name, an override
    of a field the composer lacks, overrides of an instance: a ConfigurationError now)."""
    from maze_core.agent import BasePolicyComposer, CriticComposerInterface

    base = BasePolicyComposer if kind == "policy" else CriticComposerInterface
    if value is None or isinstance(value, str):
        name = value or default
        composer_class = plugins.load(kind, name)  # fail now on an unknown name
        for key in kwargs:
            check_field(f"{kind}.{key}", composer_class, key)
        return ComposerChoice(kind, name, None, kwargs)
    if isinstance(value, base):
        if kwargs:
            raise ConfigurationError(
                f"overrides {sorted(f'{kind}.{k}' for k in kwargs)} cannot change a {kind} composer "
                "instance; pass the values to its constructor instead"
            )
        return ComposerChoice(kind, registered_name(kind, type(value)), value, {})
    raise ConfigurationError(
        f"{kind}={value!r}: give a registered {kind} name ({', '.join(plugins.names(kind))}) "
        f"or a {base.__name__} instance"
    )


def built_composer(kind: str, name: str, spaces: dict[str, Any], kwargs: dict[str, Any]):
    """The registered composer ``name`` built for the env's spaces; a value of the wrong type in
    ``kwargs`` (an override, perhaps from a run's config.json) is a ConfigurationError naming it."""
    try:
        return plugins.load(kind, name)(**spaces, **kwargs)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        if isinstance(error, ConfigurationError):
            raise
        given = ", ".join(f"{kind}.{key}={value!r}" for key, value in kwargs.items()) or "no overrides"
        raise ConfigurationError(
            f"the {kind} composer {name!r} cannot be built with {given}: {type(error).__name__}: {error}"
        ) from error


def resolve_runner(runner, kwargs: dict[str, Any]):
    from maze_core.runners import Runner

    if isinstance(runner, str):
        runner_class = plugins.load("runner", runner)
        for key in kwargs:
            check_field(f"runner.{key}", runner_class, key)
        try:
            return runner, runner_class(**kwargs)
        except TypeError as error:
            raise ConfigurationError(f"runner {runner!r} options {kwargs}: {error}") from error
    if isinstance(runner, Runner):
        for key, value in kwargs.items():
            check_field(f"runner.{key}", type(runner), key)
            setattr(runner, key, value)
        return registered_name("runner", type(runner)), runner
    raise ConfigurationError(
        f"runner={runner!r}: give a registered runner name ({', '.join(plugins.names('runner'))}) or a Runner"
    )


def wrapped_factory(factory, wrappers):
    if not wrappers:
        return factory
    from maze_core.env.native import VectorEnvFactory

    if isinstance(factory, VectorEnvFactory):
        raise ConfigurationError(
            "wrappers= wraps single Maze envs, but env= is a VectorEnvFactory (a batch of envs): "
            "apply gymnasium vector wrappers inside the factory instead."
        )
    return _WrappedFactory(factory, [_wrapper_spec(item) for item in _wrapper_items(wrappers)])


def _wrapper_items(wrappers) -> list:
    if isinstance(wrappers, dict):
        return list(wrappers.items())
    if isinstance(wrappers, (list, tuple)):
        return list(wrappers)
    raise ConfigurationError(
        f"wrappers={wrappers!r}: give a list of wrapper classes or (class, kwargs) pairs, or a "
        "{class: kwargs} dict"
    )


def _wrapper_spec(item) -> tuple[type, dict[str, Any]]:
    """``(wrapper class, kwargs)`` of one entry of ``wrappers=``: a class or a dotted path, alone
    or paired with a dict of keyword arguments; anything else is a ConfigurationError naming it."""
    from maze_core._imports import import_object
    from maze_core.env.wrappers import Wrapper

    wrapper, kwargs = item if isinstance(item, (tuple, list)) and len(item) == 2 else (item, {})
    if isinstance(wrapper, str):
        wrapper = import_object(wrapper, "wrapper", kind=Wrapper)
    if not (isinstance(wrapper, type) and issubclass(wrapper, Wrapper)) or not isinstance(kwargs, dict):
        raise ConfigurationError(
            f"wrappers entry {short_repr(item)}: give a Wrapper subclass (or its dotted path), "
            "alone or as a (wrapper, {keyword: value}) pair"
        )
    return wrapper, dict(kwargs)


class _WrappedFactory:
    """A picklable env factory that applies wrappers (sent to worker processes by the local runner)."""

    def __init__(self, factory, wrappers):
        self.factory = factory
        self.wrappers = wrappers

    def __call__(self):
        env = self.factory()
        for wrapper, kwargs in self.wrappers:
            env = wrapper.wrap(env, **kwargs)
        return env


#: copies of the model's weights that training holds: the weights, their gradients, the optimizer's
#: two moments (Adam) and the best model
TRAINING_COPIES = 5
#: copies that using a trained model holds: the weights, the best policy and the state read from disk
LOADING_COPIES = 3


def check_model_fits(build_composers, device, copies: int) -> None:
    """Refuse networks whose weights would not fit in memory ``copies`` times, measured before any
    weight exists: the composers are built once on torch's ``meta`` device, which allocates
    nothing. A network that cannot be built there is not measured (the real build reports it)."""
    import torch

    from maze_core.errors import MazeError
    from maze_core.training.memory import available_memory

    try:
        with torch.device("meta"):
            policy, critic = build_composers()
        parameters = [*policy.policy.parameters(), *critic.critic.parameters()]
    except MazeError:
        raise
    except Exception:  # noqa: BLE001 - a network that cannot be built on meta is built for real
        return
    n_bytes = sum(p.numel() * p.element_size() for p in parameters)
    available = available_memory(device)
    if available is not None and n_bytes * copies > available:
        n_parameters = sum(p.numel() for p in parameters)
        raise ConfigurationError(
            f"the policy and critic networks have {n_parameters:,} parameters ({n_bytes / 2**30:.1f} GiB), "
            f"and {'training' if copies == TRAINING_COPIES else 'using'} them needs about "
            f"{n_bytes * copies / 2**30:.1f} GiB, but only {available / 2**30:.1f} GiB of memory are "
            f"available on {device}; make the networks smaller (model.hidden_units, or policy.networks "
            "and critic.networks)"
        )


def check_action_spaces(algorithm_name: str, config: AlgorithmConfig, action_spaces_dict) -> None:
    """Refuse an env whose action heads the algorithm cannot learn (its config's
    ``action_space_types``), in one line naming the registered algorithms that fit."""

    def fits(config_class, spaces) -> bool:
        allowed = getattr(config_class, "action_space_types", None)
        return allowed is None or all(type(head).__name__ in allowed for head in spaces)

    heads = [head for space in action_spaces_dict.values() for head in space.spaces.values()]
    if fits(type(config), heads):
        return
    fitting = []
    for name in plugins.names("algorithm"):
        try:
            if fits(plugins.load("algorithm", name), heads):
                fitting.append(name)
        except Exception:  # noqa: BLE001 - a broken or ambiguous plugin is listed elsewhere
            continue
    kinds = ", ".join(sorted({type(head).__name__ for head in heads}))
    raise ConfigurationError(
        f"algorithm {algorithm_name!r} learns {' or '.join(type(config).action_space_types)} actions, "
        f"but this env has {kinds} actions; algorithms for them: {', '.join(fitting) or 'none installed'}"
    )


def build_actor_critic(
    env_factory, policy: ComposerChoice, critic: ComposerChoice, device, copies: int, algorithm=None
):
    """The model of a run, the env's observation spaces and its gymnasium id (None without one): the
    composers built for the spaces of one probe env, measured first on the meta device
    (:func:`check_model_fits`); with ``algorithm`` ``(name, config)``, the env's actions are
    checked against it first."""
    from maze_core.agent import TorchActorCritic

    probe = env_factory()
    try:
        spaces = {
            "action_spaces_dict": probe.action_spaces_dict,
            "observation_spaces_dict": probe.observation_spaces_dict,
            "agent_counts_dict": probe.agent_counts_dict,
        }
        env_id = getattr(getattr(probe, "spec", None), "id", None)
    finally:
        probe.close()
    if algorithm is not None:
        check_action_spaces(*algorithm, spaces["action_spaces_dict"])

    def composers():
        critic_composer = critic.built(spaces)
        return policy.built(spaces, critic=critic_composer.critic), critic_composer

    if policy.composer is None or critic.composer is None:
        check_model_fits(composers, device, copies)
    policy_composer, critic_composer = composers()
    model = TorchActorCritic(policy_composer.policy, critic_composer.critic, device=device)
    return model, spaces["observation_spaces_dict"], env_id

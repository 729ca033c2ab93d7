"""Presets: tuned settings of an algorithm for one env, shipped by the algorithm's plugin and
chosen by name (``maze train --env Pendulum-v1 --algorithm ppo --preset zoo``,
``RunContext(env="Pendulum-v1", algorithm="ppo", preset="zoo")``).

A preset is a set of overrides (``{"algorithm.lr": 1e-3, "runner.n_envs": 4,
"model.hidden_units": [64, 64]}``) that goes over the algorithm's defaults and under the user's
own overrides. An algorithm plugin ships its presets in its config class's ``presets`` (a tuple
of :class:`Preset`); the kernel holds none. A preset is applied only when asked for by name, so
the same command always trains the same settings; the banner names a preset the env has when
none was chosen, and prints the settings of the one that was.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import attrs

from maze_core.errors import ConfigurationError


@attrs.frozen(kw_only=True)
class Preset:
    """Tuned settings of one algorithm for one env.

    :param name: what the user writes, e.g. ``"zoo"`` (rl-baselines3-zoo's settings).
    :param env: the env name they are tuned for, as written with ``--env`` (a gymnasium id).
    :param settings: overrides, ``{"<section>.<field>": value}`` (sections ``algorithm``,
        ``runner``, ``policy``, ``critic``, ``model``); ``algorithm.n_epochs`` is the budget.
    :param source: where the values come from, e.g. the zoo file they are taken from.
    """

    name: str
    env: str
    settings: Mapping[str, Any]
    source: str

    def describe(self, width: int = 80) -> str:
        """For the banner: the preset, then every setting it makes, in lines of at most ``width``."""
        settings = " ".join(f"{key}={_compact(value)}" for key, value in self.settings.items())
        lines = textwrap.wrap(settings, width, initial_indent="  ", subsequent_indent="  ")
        return "\n".join([f"Preset {self.name} for {self.env} ({self.source}):", *lines])

    def recorded(self) -> dict[str, Any]:
        """For the run's config.json."""
        return {"name": self.name, "env": self.env, "source": self.source, "settings": dict(self.settings)}


def preset_table(
    name: str, source: str, common: Mapping[str, Any], by_env: Mapping[str, Mapping[str, Any]]
) -> tuple[Preset, ...]:
    """One preset ``name`` per env of ``by_env``, all from ``source``: ``common`` settings, then the
    env's own (how a plugin writes, e.g., the zoo's file for its algorithm)."""
    return tuple(
        Preset(name=name, env=env, settings={**common, **settings}, source=source)
        for env, settings in by_env.items()
    )


#: the fields that set a run's length: the user's own (either) replaces a preset's
LENGTH_FIELDS = ("algorithm.n_epochs", "algorithm.n_env_steps")


def with_preset(preset: Preset | None, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``overrides`` over ``preset``'s settings; a training length among ``overrides`` (in epochs or
    env steps) replaces the preset's."""
    overrides = dict(overrides or {})
    if preset is None:
        return overrides
    settings = dict(preset.settings)
    if any(key in overrides for key in LENGTH_FIELDS):
        settings = {key: value for key, value in settings.items() if key not in LENGTH_FIELDS}
    return {**settings, **overrides}


def verified_only(presets: tuple[Preset, ...], verified_envs: tuple[str, ...]):
    """``(offered, candidates)``: the presets for ``verified_envs`` (a run showed they learn; a
    plugin offers only those) and the rest, kept for a later run to verify."""
    offered = tuple(preset for preset in presets if preset.env in verified_envs)
    return offered, tuple(preset for preset in presets if preset not in offered)


def recorded_preset(config: Mapping[str, Any]) -> Preset | None:
    """The preset a run's ``config.json`` records (its settings are among the run's recorded
    overrides; this keeps where they came from in the banner and the rewritten config), or None."""
    record = config.get("preset")
    try:
        return Preset(
            name=str(record["name"]),
            env=str(record["env"]),
            settings=dict(record["settings"]),
            source=str(record["source"]),
        )
    except (TypeError, KeyError, ValueError):
        return None


def presets_of(config_class: type) -> tuple[Preset, ...]:
    """The presets an algorithm's config class ships (``presets``; none if it declares none)."""
    return tuple(getattr(config_class, "presets", ()))


def find_preset(name: Any, algorithm: Any, env: Any) -> Preset | None:
    """The preset ``name`` of ``algorithm`` (a registered name or an ``AlgorithmConfig``) for the env
    named ``env``; None for no preset. Anything else is a one-line ConfigurationError naming the
    presets there are."""
    if name is None:
        return None
    algorithm_name, config_class = _algorithm(algorithm)
    if not isinstance(name, str):
        raise ConfigurationError(f"preset={name!r}: give a preset's name, such as 'zoo'")
    if not isinstance(env, str):
        raise ConfigurationError(
            f"preset={name!r} picks tuned settings by the env's name, but env= is not a name; give "
            "the settings as overrides instead"
        )
    presets = presets_of(config_class)
    for preset in presets:
        if preset.name == name and preset.env == env:
            return preset
    for_env = [preset.name for preset in presets if preset.env == env]
    envs = sorted({preset.env for preset in presets if preset.name == name})
    if for_env:
        there = f"its presets for {env}: {', '.join(for_env)}"
    elif envs:
        there = f"its preset {name!r} is for {', '.join(envs)}"
    elif presets:
        there = f"its presets are named {', '.join(sorted({preset.name for preset in presets}))}"
    else:
        there = "it has none"
    raise ConfigurationError(f"algorithm {algorithm_name!r} has no preset {name!r} for env {env!r}; {there}")


def preset_hint(algorithm: Any, env: Any) -> str | None:
    """The banner's line when no preset was chosen but the env has some, else None."""
    if not isinstance(env, str):
        return None
    names = [preset.name for preset in presets_of(_algorithm(algorithm)[1]) if preset.env == env]
    if not names:
        return None
    return f"Settings: the algorithm's defaults (tuned for {env}: --preset {' or '.join(names)})"


def _algorithm(algorithm: Any) -> tuple[str, type]:
    """``(name, config class)`` of a registered name or a config instance."""
    from maze_core import plugins

    if isinstance(algorithm, str):
        return algorithm, plugins.load("algorithm", algorithm)
    return plugins.registered_name("algorithm", type(algorithm)) or type(algorithm).__name__, type(algorithm)


def _compact(value: Any) -> str:
    """``[64, 64]`` as ``[64,64]``, so that a setting is one word, as ``--set`` takes it."""
    return str(value).replace(", ", ",") if isinstance(value, list | tuple) else str(value)

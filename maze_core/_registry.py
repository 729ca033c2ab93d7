"""The registry behind :mod:`maze_core.plugins`: discovery of the ``maze.plugins`` entry points,
each plugin's record (what it registered, whether it is broken), and the lookup of a name,
qualified or not. :mod:`maze_core.plugins` is its public face; nothing here is imported by plugins.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from typing import Any

import pluggy

from maze_core import hookspecs
from maze_core.errors import PluginError, UnknownNameError

ENTRY_POINT_GROUP = "maze.plugins"
BUILTIN_DISTRIBUTION = "maze-core"
LOAD_PLUGINS_VARIABLE = "MAZE_LOAD_PLUGINS"

#: kind -> the hook through which plugins register things of that kind
HOOKS = {
    "env": "register_envs",
    "algorithm": "register_algorithms",
    "policy": "register_policies",
    "critic": "register_critics",
    "runner": "register_runners",
    "distribution": "register_distributions",
    "device": "register_devices",
    "tracker": "register_trackers",
    "command": "register_commands",
}
KINDS = tuple(HOOKS)

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
#: between a distribution and a name in a qualified name: ``maze-ppo:ppo``
QUALIFIER = ":"


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``maze plugins list`` shows it.

    ``status`` is ``"broken"`` when the plugin failed to import or a hook raised; ``error`` then says
    why in one line and ``exception`` holds the original exception, if there was one. ``clashes``
    names each name another plugin registers too, with the qualified name that selects this one's.
    """

    distribution: str
    version: str | None
    provides: dict[str, list[str]]
    status: str
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    clashes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.distribution

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``error`` only when broken)."""
        data: dict[str, Any] = {
            "distribution": self.distribution,
            "version": self.version,
            "provides": self.provides,
            "status": self.status,
        }
        if self.error is not None:
            data["error"] = self.error
        if self.clashes:
            data["clashes"] = self.clashes
        return data


@dataclass(eq=False)
class Plugin:
    """The registry's record of one plugin (one distribution, or one in-process registration)."""

    distribution: str
    version: str | None
    in_process: bool = False
    objects: list[Any] = field(default_factory=list)  # what is registered with pluggy
    targets: dict[tuple[str, str], Any] = field(default_factory=dict)  # (kind, name) -> target
    loaded: dict[tuple[str, str], Any] = field(default_factory=dict)
    failures: list[tuple[str, BaseException | None]] = field(default_factory=list)

    def fail(self, reason: str, exception: BaseException | None = None) -> None:
        self.failures.append((reason, exception))

    @property
    def exception(self) -> BaseException | None:
        return next((exc for _, exc in self.failures if exc is not None), None)

    @property
    def failure(self) -> str:
        return "; ".join(reason for reason, _ in self.failures)


class Registry:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("maze")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[Plugin] = []
        self.load_filter = os.environ.get(LOAD_PLUGINS_VARIABLE)

    # -- discovery ---------------------------------------------------------------------------------

    def discover(self) -> None:
        from maze_core import __version__, builtins

        kernel = Plugin(BUILTIN_DISTRIBUTION, __version__)
        self.add(kernel, builtins, name=BUILTIN_DISTRIBUTION)
        self.plugins.append(kernel)

        wanted = _wanted_distributions(self.load_filter)
        by_distribution: dict[str, Plugin] = {}
        entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_entry_point_sort_key)
        for ep in entry_points:
            distribution, version = _distribution_of(ep)
            if distribution == BUILTIN_DISTRIBUTION:
                continue
            if wanted is not None and _normalize(distribution) not in wanted:
                continue
            plugin = by_distribution.get(distribution)
            if plugin is None:
                plugin = by_distribution[distribution] = Plugin(distribution, version)
                self.plugins.append(plugin)
            try:
                module = ep.load()
            except Exception as exc:
                plugin.fail(f"importing {ep.value!r} failed: {_describe(exc)}", exc)
                continue
            self.add(plugin, module, name=f"{distribution}:{ep.name}")

        found = {_normalize(name) for name in by_distribution}
        for normalized, requested in (wanted or {}).items():
            if normalized not in found and normalized != _normalize(BUILTIN_DISTRIBUTION):
                missing = Plugin(requested, None)
                missing.fail(f"not installed (named in {LOAD_PLUGINS_VARIABLE})")
                self.plugins.append(missing)

    def add(self, plugin: Plugin, obj: Any, name: str) -> None:
        """Register ``obj`` with pluggy and run its hooks, one at a time, into ``plugin``."""
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # PluginValidationError (bad hook signature), ValueError (twice)
            plugin.fail(f"cannot be registered: {_describe(exc)}", exc)
            return
        unknown = [caller.name for caller in self.pm.get_hookcallers(obj) or [] if not caller.has_spec()]
        if unknown:
            self.pm.unregister(obj)
            for hook in unknown:
                hint = _did_you_mean(hook, HOOKS.values(), n=1)
                plugin.fail(f"@hookimpl {hook!r} is not a Maze hook.{hint}")
            return
        plugin.objects.append(obj)
        for kind, hook in HOOKS.items():
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                if impl.plugin is not obj:
                    continue
                record = partial(self.record, plugin, kind)
                try:
                    impl.function(**{arg: record for arg in impl.argnames})
                except Exception as exc:
                    plugin.fail(f"hook {hook} raised {_describe(exc)}", exc)

    @staticmethod
    def record(plugin: Plugin, kind: str, name: str, target: Any) -> None:
        """The ``register(name, target)`` callable that hooks receive."""
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"{kind} names must be non-empty strings, got {name!r}")
        if target is None:
            raise PluginError(f"{kind} {name!r}: the target is None")
        if isinstance(target, str) and not _TARGET.match(target):
            raise PluginError(
                f"{kind} {name!r}: target {target!r} is not of the form 'package.module:Attribute'"
            )
        plugin.targets[(kind, name)] = target

    def remove(self, plugin: Plugin) -> None:
        for obj in plugin.objects:
            self.pm.unregister(obj)
        self.plugins.remove(plugin)

    # -- lookup ------------------------------------------------------------------------------------

    def providers(self, kind: str, name: str) -> list[Plugin]:
        return [plugin for plugin in self.plugins if (kind, name) in plugin.targets]

    def names(self, kind: str) -> list[str]:
        return sorted({n for plugin in self.plugins for k, n in plugin.targets if k == kind})

    def resolve(self, kind: str, name: str) -> tuple[Plugin, str]:
        """The plugin that provides ``name`` of ``kind``, and the name as it registered it.

        ``distribution:name`` selects that distribution's; a bare name must have one provider.
        """
        distribution, qualified, bare = name.rpartition(QUALIFIER)
        plugin = self.find(distribution) if qualified else None
        if plugin is not None:
            if (kind, bare) not in plugin.targets:
                own = sorted(n for k, n in plugin.targets if k == kind)
                raise UnknownNameError(
                    f"Plugin {plugin.distribution!r} provides no {kind} {bare!r}; its {_plural(kind)}: "
                    f"{', '.join(own) or 'none'}."
                )
            return plugin, bare
        providers = self.providers(kind, name)
        if not providers:
            raise UnknownNameError(self.unknown_name_message(kind, name))
        if len(providers) > 1:
            choices = ", ".join(f"{plugin.distribution}{QUALIFIER}{name}" for plugin in providers)
            raise PluginError(
                f"{kind} {name!r} is provided by more than one plugin; choose one by its qualified "
                f"name: {choices}"
            )
        return providers[0], name

    def qualified(self, plugin: Plugin, kind: str, name: str) -> str:
        """``name``, qualified with the plugin's distribution where another plugin has it too."""
        return name if len(self.providers(kind, name)) == 1 else f"{plugin.distribution}{QUALIFIER}{name}"

    def load(self, kind: str, name: str) -> Any:
        plugin, name = self.resolve(kind, name)
        if plugin.failures:
            raise PluginError(
                f"{kind} {name!r} is provided by plugin {plugin.distribution!r}, which is broken: "
                f"{plugin.failure}. Fix or reinstall that plugin."
            ) from plugin.exception
        key = (kind, name)
        if key not in plugin.loaded:
            target = plugin.targets[key]
            plugin.loaded[key] = _load_target(plugin, kind, name, target)
        return plugin.loaded[key]

    def unknown_name_message(self, kind: str, name: str) -> str:
        available = self.names(kind)
        plural = _plural(kind)
        message = f"Unknown {kind} {name!r}."
        message += _did_you_mean(name, available)
        if available:
            message += f" Available {plural}: {', '.join(available)}."
        else:
            message += f" No {plural} are registered; install a plugin that provides one."
        return message + self.unavailable_note()

    def unavailable_note(self) -> str:
        """Why a name may be missing: broken plugins, and a filter on the plugins loaded."""
        note = ""
        broken = [plugin for plugin in self.plugins if plugin.failures]
        if broken:
            details = "; ".join(f"{plugin.distribution} ({plugin.failure})" for plugin in broken)
            note += f" These plugins are broken and may provide it: {details}."
        if self.load_filter is not None:
            note += f" Only the plugins named in {LOAD_PLUGINS_VARIABLE}={self.load_filter!r} are loaded."
        return note

    def infos(self) -> list[PluginInfo]:
        result = []
        for plugin in self.plugins:
            reasons = [reason for reason, _ in plugin.failures]
            clashes = []
            for kind, name in plugin.targets:
                others = [p.distribution for p in self.providers(kind, name) if p is not plugin]
                if others:
                    clashes.append(
                        f"{kind} {name!r} is also provided by {', '.join(others)}: select this one as "
                        f"{plugin.distribution}{QUALIFIER}{name}"
                    )
            provides = {
                kind: sorted(n for k, n in plugin.targets if k == kind)
                for kind in KINDS
                if any(k == kind for k, _ in plugin.targets)
            }
            result.append(
                PluginInfo(
                    distribution=plugin.distribution,
                    version=plugin.version,
                    provides=provides,
                    status="broken" if reasons else "ok",
                    error="; ".join(reasons) or None,
                    exception=plugin.exception,
                    clashes=clashes,
                )
            )
        return result

    def find(self, name: str) -> Plugin | None:
        return next(
            (plugin for plugin in self.plugins if _normalize(plugin.distribution) == _normalize(name)),
            None,
        )


# -- helpers ---------------------------------------------------------------------------------------


def check_kind(kind: str) -> None:
    if kind not in HOOKS:
        raise UnknownNameError(
            f"Unknown kind {kind!r}.{_did_you_mean(kind, KINDS)} Kinds are: {', '.join(KINDS)}."
        )


def _load_target(plugin: Plugin, kind: str, name: str, target: Any) -> Any:
    """Import a ``"package.module:Attr"`` target; any other target is the object itself."""
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
        return obj
    except Exception as exc:
        raise PluginError(
            f"Cannot load {kind} {name!r} from plugin {plugin.distribution!r}: importing its target "
            f"{target!r} failed with {_describe(exc)}"
        ) from exc


def _wanted_distributions(value: str | None) -> dict[str, str] | None:
    """``MAZE_LOAD_PLUGINS`` as {normalized name: name as written}; None when unset."""
    if value is None:
        return None
    requested = [name.strip() for name in value.split(",")]
    return {_normalize(name): name for name in requested if name}


def _normalize(distribution: str) -> str:
    """PEP 503 normalization, so that ``maze_a2c`` and ``Maze-A2C`` name the same distribution."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _distribution_of(ep: metadata.EntryPoint) -> tuple[str, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:  # not found through a distribution (should not happen with entry_points())
        return ep.module.partition(".")[0], None
    return dist.name, dist.version


def _entry_point_sort_key(ep: metadata.EntryPoint) -> tuple[str, str]:
    return _normalize(_distribution_of(ep)[0]), ep.name


def _plural(kind: str) -> str:
    return HOOKS[kind].removeprefix("register_")


def _did_you_mean(name: str, candidates: Any, n: int = 3) -> str:
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(by_lower[match]) for match in matches) + "?"


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__

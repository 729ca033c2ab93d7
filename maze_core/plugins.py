"""The plugin registry: finds Maze plugins and looks up what they provide.

A plugin is any installed distribution with an entry point in the group ``maze.plugins``; the entry
point names a module whose :data:`~maze_core.hookimpl` functions (see :mod:`maze_core.hookspecs`)
register things by name: ``register("a2c", "maze_a2c.config:A2CAlgorithmConfig")``. Targets given
as ``"package.module:Attr"`` strings are imported on first :func:`load`, so discovering plugins (and
``maze plugins list``) never imports torch. The kernel's own defaults (:mod:`maze_core.builtins`)
register through the same hooks as the plugin ``maze-core``.

Discovery happens once, on first use. A plugin that fails to import, or whose hook raises, is
recorded as broken and every other plugin keeps working; :func:`plugins` says which and why.

Two plugins may register the same name of one kind: neither is broken, the listing shows the
clash, and the qualified name ``distribution:name`` (``maze-ppo:ppo``) selects one of them wherever a
name is taken (``maze train --algorithm``, ``RunContext(algorithm=...)``, ``config.json``). The bare
name is then ambiguous: using it is a one-line error listing the qualified choices.

``MAZE_LOAD_PLUGINS`` (comma-separated distribution names) restricts discovery to those
distributions; an empty value loads none besides the kernel's built-ins.
"""

from __future__ import annotations

import threading
from typing import Any

from maze_core._registry import (
    BUILTIN_DISTRIBUTION,
    ENTRY_POINT_GROUP,
    HOOKS,
    KINDS,
    LOAD_PLUGINS_VARIABLE,
    QUALIFIER,
    Plugin,
    PluginInfo,
    Registry,
    check_kind,
)
from maze_core.errors import MazeError, PluginError, UnknownNameError

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "HOOKS",
    "KINDS",
    "LOAD_PLUGINS_VARIABLE",
    "QUALIFIER",
    "PluginInfo",
    "load",
    "distribution_of",
    "names",
    "plugins",
    "provides",
    "registered_name",
    "register",
    "reload",
    "unregister",
]

_registry: Registry | None = None
_lock = threading.RLock()  # guards discovery and (un)registration, not imports of targets


def _get() -> Registry:
    global _registry
    with _lock:
        if _registry is None:
            registry = Registry()
            registry.discover()
            _registry = registry
        return _registry


# -- public API ------------------------------------------------------------------------------------


def load(kind: str, name: str) -> Any:
    """The object registered as ``name`` of ``kind``, imported on first use and cached.

    Raises :class:`UnknownNameError` (with close matches) for an unknown kind or name, and
    :class:`PluginError` when the name is claimed by two plugins, its plugin is broken, or its
    target cannot be imported.
    """
    check_kind(kind)
    return _get().load(kind, name)


def provides(kind: str, name: str) -> bool:
    """Whether a plugin registers ``name`` (bare or qualified) of ``kind``, usable or not."""
    check_kind(kind)
    try:
        _get().resolve(kind, name)
    except UnknownNameError:
        return False
    except PluginError:  # ambiguous: provided, by more than one plugin
        return True
    return True


def distribution_of(kind: str, name: str) -> str | None:
    """The distribution of the plugin that provides ``name`` of ``kind`` (None: none, or several)."""
    check_kind(kind)
    try:
        return _get().resolve(kind, name)[0].distribution
    except MazeError:
        return None


def registered_name(kind: str, obj: Any) -> str | None:
    """The name ``obj`` is registered under as a ``kind`` (qualified where two plugins have the
    name), or None; loads the targets of that kind that are not loaded yet."""
    check_kind(kind)
    registry = _get()
    for plugin in registry.plugins:
        if plugin.failures:
            continue
        for target_kind, name in plugin.targets:
            if target_kind != kind:
                continue
            try:
                found = registry.load(kind, registry.qualified(plugin, kind, name))
            except MazeError:
                continue
            if found is obj:
                return registry.qualified(plugin, kind, name)
    return None


def names(kind: str) -> list[str]:
    """Every registered name of ``kind``, sorted (including names :func:`load` would refuse)."""
    check_kind(kind)
    return _get().names(kind)


def unavailable_note() -> str:
    """A sentence for an unknown-name error naming the broken plugins (which may provide the name)
    and the ``MAZE_LOAD_PLUGINS`` filter, if any; empty when neither applies."""
    return _get().unavailable_note()


def plugins() -> list[PluginInfo]:
    """One :class:`PluginInfo` per plugin: the kernel's built-ins first, then installed
    distributions by name, then in-process registrations."""
    return _get().infos()


def register(plugin: Any, name: str | None = None) -> None:
    """Register a module or object with ``@hookimpl`` functions in this process, without packaging.

    Its registrations take effect immediately. ``name`` (default: the module's ``__name__``, else
    the object's class name) identifies it in :func:`plugins` and :func:`unregister`; registering
    again under the same name replaces the earlier in-process plugin, which is what re-running a
    notebook cell needs. Raises :class:`PluginError` when it has no hook implementations, a hook
    raises, or ``name`` belongs to an installed plugin.
    """
    if name is None:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
    with _lock:
        registry = _get()
        existing = registry.find(name)
        if existing is not None:
            if not existing.in_process:
                raise PluginError(
                    f"A plugin named {name!r} is installed already; pass register() another name."
                )
            registry.remove(existing)
        record = Plugin(name, None, in_process=True)
        registry.add(record, plugin, name=f"in-process:{name}")
        if not record.failures and not registry.pm.get_hookcallers(plugin):
            hooks = ", ".join(HOOKS.values())
            record.fail(f"it has no functions decorated with @maze_core.hookimpl (hooks: {hooks})")
        if record.failures:
            for obj in record.objects:
                registry.pm.unregister(obj)
            raise PluginError(f"Cannot register plugin {name!r}: {record.failure}") from record.exception
        registry.plugins.append(record)


def unregister(name: str) -> None:
    """Remove a plugin (an in-process one, or an installed distribution until :func:`reload`)."""
    with _lock:
        registry = _get()
        plugin = registry.find(name)
        if plugin is None:
            known = ", ".join(p.distribution for p in registry.plugins)
            raise UnknownNameError(f"No plugin named {name!r} is registered; plugins: {known}.")
        registry.remove(plugin)


def reload() -> None:
    """Forget every plugin and cached object; the next use discovers plugins again.

    Re-reads ``MAZE_LOAD_PLUGINS`` and drops in-process registrations. Meant for tests and for
    picking up plugins installed while the process runs.
    """
    global _registry
    with _lock:
        _registry = None

"""Resolving dotted paths given in configs (``"package.module.Attr"`` or ``"package.module:Attr"``).

Paths of the original Maze (``maze.distributions.categorical.CategoricalProbabilityDistribution``,
``maze.perception.models.built_in.flatten_concat.FlattenConcatPolicyNet``) and of the old ``gym``
package (``gym.spaces.Discrete``) are mapped to their counterparts here, so configs written for the
original framework keep working.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

from maze_core.errors import ConfigurationError

# old prefix -> module that holds every public name of that old package tree (first match wins)
_LEGACY_PACKAGES = {
    "maze.perception.models.policies.": "maze_policies",
    "maze.perception.models.critics.": "maze_critics",
    "maze.distributions.": "maze_core.distributions",
    "maze.perception.": "maze_core.perception",
    "maze.core.agent.": "maze_core.agent",
    "gym.spaces.": "gymnasium.spaces",
}


def legacy_equivalent(path: str) -> str | None:
    """``"module:Attr"`` path of our equivalent of an original-Maze or ``gym`` path, else None."""
    for prefix, module in _LEGACY_PACKAGES.items():
        if path.startswith(prefix):
            return f"{module}:{path.rsplit('.', 1)[-1]}"
    return None


#: set while a run is rebuilt from an untrusted run directory: the config file that names the paths
_untrusted_source: ContextVar[Path | None] = ContextVar("maze_untrusted_source", default=None)


@contextlib.contextmanager
def only_installed_code(source: str | Path | None) -> Iterator[None]:
    """Within this block, :func:`import_object` resolves a path only to a class of the kind its
    caller expects, from an installed package: each module of the path is checked before it is
    imported (:func:`_import_installed`), the class before it is called.

    ``source`` is the file that named the paths (a run's ``config.json``), for the error message;
    None (a trusted source) restricts nothing.
    """
    token = _untrusted_source.set(Path(source) if source is not None else None)
    try:
        yield
    finally:
        _untrusted_source.reset(token)


def import_object(path: str, what: str = "object", kind: type | None = None) -> Any:
    """Import the object named by ``path``; a ConfigurationError says what could not be found.

    :param kind: the base class the object must be a subclass of when the path comes from an
        untrusted run directory (see :func:`only_installed_code`); None refuses every such path.
    """
    path = legacy_equivalent(path) or path
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not all(module_name.split(".")) or not attr:
        raise ConfigurationError(
            f"{what} {path!r} is not a dotted path; "
            f"write it as 'package.module.Name' or 'package.module:Name'"
        )
    source = _untrusted_source.get()
    if source is None:
        module = _import(module_name, path, what)
    else:
        module = _import_installed(module_name, path, what, kind, source)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(
            f"module {module_name!r} has no attribute {attr!r} ({what} {path!r})"
        ) from None
    if source is not None and not (kind is not None and isinstance(obj, type) and issubclass(obj, kind)):
        raise _untrusted(source, what, path, f"it is not a {_kind_name(kind)} subclass")
    return obj


def _import(module_name: str, path: str, what: str) -> ModuleType:
    """``importlib.import_module``, failing with a ConfigurationError that names the path."""
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"cannot import module {module_name!r} for {what} {path!r}: {error}"
        ) from error


def _import_installed(module_name: str, path: str, what: str, kind: type | None, source: Path) -> ModuleType:
    """Import ``module_name`` one module at a time (``a``, ``a.b``, ``a.b.c``), each found and
    checked before it runs: only modules of installed packages, never one from the run directory
    or found through the current directory.

    Checking the top-level package alone is not enough: an installed namespace package (``google``)
    takes submodules from every ``sys.path`` entry, the run directory's too when it is the current
    directory, and ``pkg.__main__`` is an installed module that runs a program when imported.
    """
    if kind is None:
        raise _untrusted(source, what, path, "Maze never loads code of this kind from a run directory")
    parts = module_name.split(".")
    if "__main__" in parts:
        reason = f"{module_name!r} is a program's entry point (__main__), which runs when imported"
        raise _untrusted(source, what, path, reason)
    if parts[0] not in sys.modules and parts[0] not in importlib.metadata.packages_distributions():
        raise _untrusted(source, what, path, f"{parts[0]!r} is not an installed package")
    run_dir = source.parent.resolve()
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        with _installed_paths_only(run_dir):  # the check and the import see the same sys.path
            found = sys.modules.get(name)
            if found is None:
                found = _find_spec(name, path, what)
            if found is not None and not _lies_in(found, run_dir):
                module = _import(name, path, what)
                continue
        if found is not None:
            raise _untrusted(source, what, path, f"{name!r} lies in the run directory")
        raise _not_found(name, path, what, source, run_dir)
    return module


@contextlib.contextmanager
def _installed_paths_only(run_dir: Path) -> Iterator[None]:
    """Without the ``sys.path`` entries of the current directory (``''``, ``'.'``, its full path:
    ``python -c`` and ``python -m`` put one first) and of the run directory.

    A namespace package's ``__path__`` is recomputed from ``sys.path``, so it loses them too. An
    installed package that lies in the current directory (``pip install -e .``) is still found, through
    its installation.
    """
    cwd = Path.cwd().resolve()
    removed = [(i, entry) for i, entry in enumerate(sys.path) if _is_local(entry, cwd, run_dir)]
    for i, _ in reversed(removed):
        del sys.path[i]
    try:
        yield
    finally:
        for i, entry in removed:
            sys.path.insert(i, entry)


def _is_local(entry: Any, cwd: Path, run_dir: Path) -> bool:
    """Whether a ``sys.path`` entry is the current directory or lies in the run directory."""
    try:
        resolved = Path(entry or ".").resolve()
    except (TypeError, OSError):
        return False
    return resolved == cwd or resolved.is_relative_to(run_dir)


def _find_spec(name: str, path: str, what: str) -> ModuleSpec | None:
    """The spec ``name`` would be imported with; runs no code but its parent's, which is imported."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError) as error:
        raise ConfigurationError(f"cannot import module {name!r} for {what} {path!r}: {error}") from error


def _not_found(name: str, path: str, what: str, source: Path, run_dir: Path) -> ConfigurationError:
    """The error for a module found in no installed place: where it lies if Python would find it
    through the current or the run directory, else that there is none."""
    found = _find_spec(name, path, what)
    for directory, place in ((run_dir, "the run directory"), (Path.cwd().resolve(), "the current directory")):
        if found is not None and _lies_in(found, directory):
            return _untrusted(source, what, path, f"{name!r} lies in {place}")
    return ConfigurationError(f"cannot import module {name!r} for {what} {path!r}: No module named {name!r}")


def _lies_in(found: ModuleType | ModuleSpec, directory: Path) -> bool:
    """Whether a module's file, or any directory a package takes submodules from, lies in ``directory``."""
    if isinstance(found, ModuleSpec):
        file, search = (found.origin if found.has_location else None), found.submodule_search_locations
    else:  # imported: ``__path__`` is what its submodules are found with
        file, search = getattr(found, "__file__", None), getattr(found, "__path__", None)
    locations = [*(search or []), *([file] if file else [])]
    return any(Path(location).resolve().is_relative_to(directory) for location in locations)


def _untrusted(source: Path, what: str, path: str, reason: str) -> ConfigurationError:
    named = what if path in what else f"{what} {path!r}"
    return ConfigurationError(
        f"{source} names {named}, which Maze does not load from a run directory: {reason}. "
        "Only plugin names and classes of the expected kind from installed packages are loaded; if "
        "you trust this run, load it with --trust-run-dir (trust_run_dir=True)"
    )


def _kind_name(kind: type | None) -> str:
    """``torch.nn.Module`` rather than ``torch.nn.modules.module.Module``: the shortest public path."""
    if kind is None:
        return "an allowed"
    parts = kind.__module__.split(".")
    for end in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:end]))
        if module is not None and getattr(module, kind.__qualname__, None) is kind:
            return f"{'.'.join(parts[:end])}.{kind.__qualname__}"
    return f"{kind.__module__}.{kind.__qualname__}"

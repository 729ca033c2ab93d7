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
from pathlib import Path
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
    caller expects, from an installed package, checked before anything is called.

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
    if not module_name or not attr:
        raise ConfigurationError(
            f"{what} {path!r} is not a dotted path; "
            f"write it as 'package.module.Name' or 'package.module:Name'"
        )
    source = _untrusted_source.get()
    if source is not None:
        _check_installed(module_name, path, what, kind, source)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"cannot import module {module_name!r} for {what} {path!r}: {error}"
        ) from error
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(
            f"module {module_name!r} has no attribute {attr!r} ({what} {path!r})"
        ) from None
    if source is not None and not (kind is not None and isinstance(obj, type) and issubclass(obj, kind)):
        raise _untrusted(source, what, path, f"it is not a {_kind_name(kind)} subclass")
    return obj


def _check_installed(module_name: str, path: str, what: str, kind: type | None, source: Path) -> None:
    """Refuse, before importing anything, a path whose module is not from an installed package."""
    if kind is None:
        raise _untrusted(source, what, path, "Maze never loads code of this kind from a run directory")
    top = module_name.split(".")[0]
    if top in sys.modules:  # already imported: importing a submodule runs only installed code
        origin = getattr(sys.modules[top], "__file__", None)
    else:
        if top not in importlib.metadata.packages_distributions():
            raise _untrusted(source, what, path, f"{top!r} is not an installed package")
        spec = importlib.util.find_spec(top)
        origin = spec.origin if spec is not None else None
    if origin is not None and Path(origin).resolve().is_relative_to(source.parent.resolve()):
        raise _untrusted(source, what, path, f"{top!r} lies in the run directory")


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

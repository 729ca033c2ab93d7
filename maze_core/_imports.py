"""Resolving dotted paths given in configs (``"package.module.Attr"`` or ``"package.module:Attr"``).

Paths of the original Maze (``maze.distributions.categorical.CategoricalProbabilityDistribution``,
``maze.perception.models.built_in.flatten_concat.FlattenConcatPolicyNet``) and of the old ``gym``
package (``gym.spaces.Discrete``) are mapped to their counterparts here, so configs written for the
original framework keep working.
"""

from __future__ import annotations

import importlib
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


def import_object(path: str, what: str = "object") -> Any:
    """Import the object named by ``path``; a ConfigurationError says what could not be found."""
    path = legacy_equivalent(path) or path
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(
            f"{what} {path!r} is not a dotted path; "
            f"write it as 'package.module.Name' or 'package.module:Name'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"cannot import module {module_name!r} for {what} {path!r}: {error}"
        ) from error
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(
            f"module {module_name!r} has no attribute {attr!r} ({what} {path!r})"
        ) from None

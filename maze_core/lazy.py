"""Lazy package exports (PEP 562), so that importing a package does not import torch.

Plugin packages are imported by ``maze plugins list`` (through their registration module), and
``maze_core`` by every command of the CLI; their public names load on first access.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, str]):
    """Return ``(__getattr__, __dir__)`` for a package whose ``names`` map to their modules."""

    def __getattr__(name: str):
        if name in names:
            module = importlib.import_module(names[name])
            # a submodule exports itself (``maze_core.run_context``); otherwise take the attribute
            value = module if names[name] == f"{package}.{name}" else getattr(module, name)
            setattr(importlib.import_module(package), name, value)  # later lookups skip this hook
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(names)

    return __getattr__, __dir__

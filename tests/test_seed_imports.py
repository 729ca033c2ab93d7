"""Every name the seed tutorial imports exists, importable from the top of its package."""

import importlib
import re
from pathlib import Path

import pytest

TABLE = (Path(__file__).parents[1] / "docs" / "seed-imports.md").read_text()
OURS = re.findall(r"\| `from (\S+) import (\w+)` \|\n", TABLE)


def test_table_covers_every_seed_import():
    assert len(OURS) == 16


@pytest.mark.parametrize("module, name", OURS)
def test_name_is_importable(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_run_context_module_has_run_context():
    from maze_core import run_context

    assert run_context.RunContext.__name__ == "RunContext"

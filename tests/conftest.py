"""Fixtures shared by the whole suite."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_statistics():
    """Every test starts with no statistics writers and log step 1."""
    from maze_core import statistics

    statistics.clear_global_state()
    yield
    statistics.clear_global_state()


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run the test inside an empty directory (runs write to ./outputs by default)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

"""Fixtures of the safety tests: one trained run, copied for each test that damages it."""

from __future__ import annotations

import shutil

import pytest
from safety_support import QUICK_OVERRIDES

from maze_core import RunContext


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished one-epoch CartPole run (do not modify it: use ``run_copy``)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    with RunContext(
        env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=run_dir, seed=1, silent=True
    ) as run:
        run.train(1)
    return run_dir


@pytest.fixture
def run_copy(trained_run, tmp_path):
    """A copy of ``trained_run`` for this test alone."""
    return shutil.copytree(trained_run, tmp_path / "run")

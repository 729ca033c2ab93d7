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


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB file system (tmpfs) that fills up, as a full disk does; needs root (as in CI)."""
    import subprocess

    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)

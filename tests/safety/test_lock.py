"""Case 6: one writer per run directory; a lock left by a killed process does not block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from safety_support import QUICK_OVERRIDES

from maze_core import RunContext
from maze_core.errors import RunDirectoryError


def test_a_second_run_into_the_same_directory_is_refused_naming_the_holder(tmp_path):
    first = RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True)
    second = RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True)
    with first, second:
        first.train(1)  # holds the lock until it is closed
        config = (tmp_path / "config.json").read_bytes()
        with pytest.raises(RunDirectoryError, match=rf"in use by another run \(process {os.getpid()}\)"):
            second.train(1)
        assert (tmp_path / "config.json").read_bytes() == config
        first.train(1)  # the first run is not disturbed
    with RunContext.from_run_dir(tmp_path, overrides={"algorithm.n_epochs": 3}, silent=True) as resumed:
        resumed.train()  # closing released the lock


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from maze_core.run_dir import RunLock\n"
        "lock = RunLock(Path(sys.argv[1]))\n"
        "os.kill(os.getpid(), 9)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / ".maze.lock").exists()
    with RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as context:
        context.train(1)
    assert (tmp_path / "checkpoint.pt").exists()


def _failing_env():
    raise RuntimeError("this env cannot be built")


def test_a_run_that_fails_to_build_leaves_no_directory_and_keeps_what_was_there(tmp_path):
    """The directories the run created go again (still empty); a directory that was there stays."""
    fresh = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError, match="cannot be built"):
        RunContext(env=_failing_env, run_dir=fresh, silent=True).train(n_epochs=1)
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(RuntimeError, match="cannot be built"):
        RunContext(env=_failing_env, run_dir=existing, silent=True).train(n_epochs=1)
    assert existing.is_dir() and list(existing.iterdir()) == []

"""Cases 2 and 10: an interrupted write or run never loses the last good files; smaller leaks."""

from __future__ import annotations

import io
import signal
import subprocess
import time

import pytest
import torch
from safety_support import QUICK, QUICK_OVERRIDES, ImprovingEnv, cli, one_line_error
from shell import MAZE, clean_env

from maze_core import RunContext
from maze_core.errors import ConfigurationError

#: an epoch that does not end within the test
ENDLESS_EPOCH = [*QUICK, "--set", "algorithm.epoch_length=1000000"]


def test_ctrl_c_while_the_best_model_is_written_keeps_the_previous_one(tmp_path, monkeypatch):
    with RunContext(env=ImprovingEnv, overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as context:
        context.train(1)
        first_best = torch.load(tmp_path / "state_dict.pt", weights_only=True)
        real_save = torch.save

        def interrupted_save(obj, f, *args, **kwargs):
            """Ctrl-C half way through writing a best model (every epoch of ImprovingEnv has one)."""
            if "policies" not in obj:
                return real_save(obj, f, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(obj, buffer)
            half = buffer.getvalue()[: len(buffer.getvalue()) // 2]
            if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
                with open(f, "wb") as file:  # noqa: PTH123
                    file.write(half)
            else:
                f.write(half)
            raise KeyboardInterrupt

        monkeypatch.setattr(torch, "save", interrupted_save)
        with pytest.raises(KeyboardInterrupt):
            context.train(1)
    monkeypatch.undo()
    with RunContext(env=ImprovingEnv, run_dir=tmp_path, resume=True, silent=True) as loaded:
        loaded_best = loaded.policy.state_dict()["policies"]
    for network, weights in first_best["policies"].items():
        for name, tensor in weights.items():
            assert torch.equal(loaded_best[network][name], tensor)
    assert sorted(path.name for path in tmp_path.glob(".*")) == []  # no temporary file left


def start_training(run_dir) -> subprocess.Popen:
    command = [*MAZE, "train", "--env", "CartPole-v1", "--epochs", "0", "--run-dir", str(run_dir)]
    return subprocess.Popen(
        [*command, *ENDLESS_EPOCH], env=clean_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_until_training(process, run_dir) -> None:
    deadline = time.monotonic() + 120
    while not (run_dir / "config.json").exists():  # written once everything is built
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "training did not start within two minutes"
        time.sleep(0.1)
    time.sleep(0.5)


def test_sigterm_and_a_double_ctrl_c_in_the_first_epoch_end_the_run_cleanly(tmp_path):
    """Two runs side by side (to start Python once in parallel): SIGTERM, and Ctrl-C twice."""
    terminated_dir, interrupted_dir = tmp_path / "terminated", tmp_path / "interrupted"
    terminated, interrupted = start_training(terminated_dir), start_training(interrupted_dir)
    try:
        wait_until_training(terminated, terminated_dir)
        wait_until_training(interrupted, interrupted_dir)
        terminated.send_signal(signal.SIGTERM)
        interrupted.send_signal(signal.SIGINT)
        time.sleep(0.05)
        interrupted.send_signal(signal.SIGINT)
        outputs = {name: process.communicate(timeout=60) for name, process in
                   (("terminated", terminated), ("interrupted", interrupted))}  # fmt: skip
    finally:
        terminated.kill()
        interrupted.kill()
    assert (terminated.returncode, interrupted.returncode) == (143, 130), outputs
    for (stdout, stderr), run_dir in zip(outputs.values(), (terminated_dir, interrupted_dir), strict=True):
        assert "Traceback" not in stdout + stderr
        assert f"Continue with: maze train --resume {run_dir}" in stderr
        assert "the best model" not in stdout + stderr  # no epoch finished: there is none
        assert (
            "Interrupted before the first epoch finished: a resumable checkpoint is kept, no best" in stdout
        )
        assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 0
        assert not list(run_dir.glob(".*maze-tmp")) and not (run_dir / ".maze.lock").exists()


def test_a_temporary_file_left_by_a_killed_save_is_removed_by_the_next_run(run_copy):
    stale = run_copy / ".checkpoint.pt.0badf00d.maze-tmp"
    stale.write_bytes(b"half a checkpoint")
    with RunContext.from_run_dir(run_copy, overrides={"algorithm.n_epochs": 2}, silent=True) as context:
        context.train()
    assert not stale.exists()


def test_an_infinite_learning_rate_is_refused():
    with pytest.raises(ConfigurationError, match=r"lr=inf is invalid: it must be a finite number > 0"):
        RunContext(env="CartPole-v1", overrides={"algorithm.lr": float("inf")})
    one_line_error(cli("train", "--env", "CartPole-v1", "--set", "algorithm.lr=inf"), "lr=inf is invalid")


def test_an_empty_run_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(cli("train", "--env", "CartPole-v1", "--run-dir", "", *QUICK), "run directory is empty")
    with pytest.raises(ConfigurationError, match="run directory is empty"):
        RunContext(env="CartPole-v1", run_dir="")
    assert list(tmp_path.iterdir()) == []

"""Random ``kill -9`` and Ctrl-C during training and saving never leave an unloadable run."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest
import torch
from shell import MAZE, clean_env, maze

#: one update of two steps per epoch: the run spends much of its time writing its files
TINY = [
    *("--set", "algorithm.epoch_length=1"),
    *("--set", "algorithm.n_rollout_steps=2"),
    *("--set", "runner.n_envs=1"),
    *("--set", "runner.eval_episodes=1"),
    *("--set", "algorithm.patience=0"),  # no early stopping: every run ends by a signal
]


def check_loadable(run_dir) -> None:
    if (run_dir / "config.json").exists():
        json.loads((run_dir / "config.json").read_text())
    if (run_dir / "state_dict.pt").exists():
        assert "policies" in torch.load(run_dir / "state_dict.pt", weights_only=True)
    if (run_dir / "checkpoint.pt").exists():
        assert {"model", "optimizer", "epoch"} <= torch.load(
            run_dir / "checkpoint.pt", weights_only=True
        ).keys()
    for line in (
        (run_dir / "stats.jsonl").read_text().splitlines() if (run_dir / "stats.jsonl").exists() else []
    ):
        json.loads(line)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 30 Python start-ups; slower on a busy machine
def test_random_kills_never_leave_an_unloadable_state_dict_or_checkpoint(tmp_path):
    rng = random.Random(10)
    run_dir = tmp_path / "run"
    signals = []
    for _ in range(30):
        if (run_dir / "checkpoint.pt").exists():
            command = ["train", "--resume", run_dir, "--epochs", "100000"]
        else:
            command = [
                "train",
                "--env",
                "CartPole-v1",
                "--epochs",
                "0",
                "--run-dir",
                run_dir,
                "--overwrite",
                *TINY,
            ]
        process = subprocess.Popen(
            [*MAZE, *map(str, command)],
            env=clean_env(PYTHONFAULTHANDLER="1"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        stats = run_dir / "stats.jsonl"
        before = stats.stat().st_mtime_ns if stats.exists() else None
        deadline = time.monotonic() + 120
        while not (stats.exists() and stats.stat().st_mtime_ns != before):  # epochs are being written
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        sent = rng.choice([signal.SIGKILL, signal.SIGINT])
        process.send_signal(sent)
        try:
            _, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # a hang: have faulthandler show where every thread is
            process.send_signal(signal.SIGABRT)
            pytest.fail(f"maze did not end after {sent!r}:\n{process.communicate(timeout=60)[1].decode()}")
        signals.append(sent)
        assert process.returncode in (-signal.SIGKILL, 130), stderr
        assert b"Traceback" not in stderr
        check_loadable(run_dir)
    assert signal.SIGKILL in signals and signal.SIGINT in signals
    maze("evaluate", run_dir, "--episodes", "1")

"""``maze train`` and ``maze evaluate``, run as real subprocesses with tiny budgets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from shell import MAZE, clean_env, maze, run

QUICK = [
    *("--set", "algorithm.epoch_length=2"),
    *("--set", "algorithm.n_rollout_steps=16"),
    *("--set", "runner.n_envs=2"),
    *("--set", "runner.eval_episodes=2"),
]


def epochs(run_dir) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def test_train_then_evaluate_and_never_mix_two_runs_in_one_directory(tmp_path):
    run_dir = tmp_path / "run"
    result = maze("train", "--env", "CartPole-v1", "--epochs", "2", "--seed=3", "--run-dir", run_dir, *QUICK)
    rows = [line.split()[0] for line in result.stdout.splitlines() if line[:5].strip().isdigit()]
    assert rows == ["1", "2"]
    assert f"maze evaluate {run_dir}" in result.stdout
    assert epochs(run_dir) == [1, 2]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 3
    assert config["arguments"]["overrides"] == {  # typed values, as given
        "algorithm.epoch_length": 2,
        "algorithm.n_rollout_steps": 16,
        "runner.n_envs": 2,
        "runner.eval_episodes": 2,
        "algorithm.n_epochs": 2,
    }

    stats = json.loads(maze("evaluate", run_dir, "--episodes", "3", "--json").stdout)
    assert stats["episode_count"] == 3
    assert stats["episode_return_mean"] > 0
    table = maze("evaluate", run_dir, "--episodes", "2", "--stochastic").stdout
    assert "stochastic" in table and "episode_return_mean" in table

    again = maze("train", "--env", "CartPole-v1", "--epochs", "1", "--run-dir", run_dir, *QUICK, check=False)
    assert again.returncode == 1
    assert f"{run_dir} holds a run already: continue it with --resume {run_dir}" in again.stderr
    maze("train", "--env", "CartPole-v1", "--epochs", "1", "--run-dir", run_dir, "--overwrite", *QUICK)
    assert epochs(run_dir) == [1]


def test_resume_after_a_short_run_continues_the_epoch_count(tmp_path):
    run_dir = tmp_path / "run"
    maze("train", "--env", "CartPole-v1", "--epochs", "1", "--run-dir", run_dir, *QUICK)
    maze("train", "--resume", run_dir, "--epochs", "1")  # one more
    assert epochs(run_dir) == [1, 2]
    done = maze("train", "--resume", run_dir)  # up to the budget it had: nothing left
    assert "Nothing to train" in done.stdout
    assert epochs(run_dir) == [1, 2]


def test_ctrl_c_keeps_the_run_and_resume_continues_it(tmp_path):
    run_dir = tmp_path / "run"
    command = [*MAZE, "train", "--env", "CartPole-v1", "--epochs", "0", "--set", "algorithm.patience=0"]
    command += ["--run-dir", str(run_dir), *QUICK]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = subprocess.Popen(command, env=clean_env(), text=True, **pipes)
    try:
        deadline = time.monotonic() + 120
        while not ((run_dir / "stats.jsonl").exists() and epochs(run_dir)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no epoch finished within two minutes"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert f"Continue with: maze train --resume {run_dir}" in stderr
    assert "Traceback" not in stdout + stderr

    interrupted_at = epochs(run_dir)[-1]
    maze("train", "--resume", run_dir, "--epochs", "1")  # one more
    assert epochs(run_dir) == list(range(1, interrupted_at + 2))


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("train --env CartPole-v1 --set algorithm.lr=abc", "A2CAlgorithmConfig.lr must be a number"),
        ("train --env CartPole-v1 --set algorithm.nope=1", "A2CAlgorithmConfig has no field 'nope'"),
        ("train --env CartPole-v1 --set runner.n_envs=0", "runner.n_envs=0 is invalid"),
        ("train --env CartPole-v1 --set lr=0.1", "write it as <section>.<field>=<value>"),
        ("train --env CartPole-v9", "Did you mean 'CartPole-v1'"),
        ("train --env CartPole-v1 --algorithm a2", "Unknown algorithm 'a2'. Did you mean 'a2c'?"),
        ("train --env CartPole-v1 --runner locl", "Unknown runner 'locl'. Did you mean 'local'?"),
        ("train --algorithm a2c", "--env is missing"),
        ("train --resume no-such-run", "run directory 'no-such-run' does not exist"),
        ("train --resume . --env CartPole-v1", "--env cannot be given with it"),
        ("evaluate no-such-run", "run directory 'no-such-run' does not exist"),
        ("evaluate .", "is not a Maze run directory: it has no config.json"),
    ],
)
def test_user_errors_exit_non_zero_with_one_line_and_no_traceback(command, message, tmp_path):
    result = maze(*command.split(), cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_help_does_not_import_torch():
    code = (
        "import runpy, sys\n"
        "for argv in (['maze', '--help'], ['maze', 'train', '--help'], ['maze', 'evaluate', '--help']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        runpy.run_module('maze_core', run_name='__main__')\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, exit.code\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    output = run(sys.executable, "-c", code).stdout
    assert "--target-return" in output and "--stochastic" in output
    assert output.rstrip().endswith("torch imported: False")

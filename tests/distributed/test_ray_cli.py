"""``maze train --runner ray`` from the shell, on a private Ray instance the command starts itself."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from processes import descendants, wait_until_gone
from shell import MAZE, clean_env, maze

pytestmark = pytest.mark.ray


def eval_returns(run_dir) -> list[float]:
    path = run_dir / "stats.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["eval"]["episode_return_mean"] for line in lines]


# PPO's case is slow (20 s); A2C's covers the CLI on Ray by default
@pytest.mark.parametrize("algorithm", ["a2c", pytest.param("ppo", marks=pytest.mark.slow)])
def test_maze_train_learns_on_two_ray_workers_and_ctrl_c_leaves_nothing_running(
    ray_session, tmp_path, algorithm
):
    run_dir = tmp_path / "run"
    command = [*MAZE, "train", "--env", "CartPole-v1", "--algorithm", algorithm, "--runner", "ray"]
    command += ["--set", "runner.n_workers=2", "--epochs", "0", "--set", "algorithm.patience=0"]
    command += ["--run-dir", str(run_dir), "--seed", "0"]
    process = subprocess.Popen(
        command, env=clean_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 180
        while not any(value > 150 for value in eval_returns(run_dir)):  # the fast-test threshold
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, (
                f"no mean evaluation return above 150: {eval_returns(run_dir)}"
            )
            time.sleep(0.2)
        started = descendants(process.pid)  # the Ray instance and its workers
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert f"Continue with: maze train --resume {run_dir}" in stderr
    assert "Traceback" not in stdout + stderr and "WARNING" not in stdout + stderr
    assert (run_dir / "state_dict.pt").exists() and (run_dir / "checkpoint.pt").exists()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["runner"]["name"] == "ray" and config["runner"]["n_envs"] == 4
    assert len(started) >= 4 and not wait_until_gone(started)


def test_an_address_without_a_cluster_is_a_one_line_error(ray_session, tmp_path):
    env = clean_env(RAY_TMPDIR=str(tmp_path / "ray"))  # no cluster has ever run there
    command = ["train", "--env", "CartPole-v1", "--runner", "ray", "--set", "runner.address=auto"]
    result = maze(*command, "--run-dir", tmp_path / "run", env=env, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: runner.address='auto': cannot connect to a Ray cluster (")
    assert result.stderr.count("\n") == 1 and "ray start --head" in result.stderr

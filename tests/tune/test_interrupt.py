"""Ctrl-C on ``maze tune`` (a real process, a real SIGINT): the finished trials are kept, the ones
in progress failed, no worker is left, and the same command continues the study."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from processes import descendants, wait_until_gone
from shell import MAZE, clean_env, maze

optuna = pytest.importorskip("optuna")

#: runs of a few seconds, so that Ctrl-C lands while trials are in progress
RUN = [
    *("--set", "algorithm.n_epochs=6", "--set", "algorithm.epoch_length=10"),
    *("--set", "algorithm.n_rollout_steps=16", "--set", "runner.n_envs=4"),
    *("--set", "runner.eval_episodes=2", "--set", "runner.n_eval_envs=2"),
]


def trials(study_dir, *states):
    if not (study_dir / "study.db").exists():
        return []
    try:
        study = optuna.load_study(study_name="maze", storage=f"sqlite:///{study_dir / 'study.db'}")
    except KeyError:  # the file is there, the study not yet
        return []
    return [trial for trial in study.get_trials(deepcopy=False) if trial.state.name in states]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_keeps_the_finished_trials_and_the_same_command_continues_the_study(jobs, tmp_path):
    study_dir = tmp_path / "study"
    command = [
        *("tune", "--env", "CartPole-v1", "--param", "algorithm.lr=loguniform:1e-4:1e-2"),
        *("--trials", "4", "--seeds", "1", "--jobs", str(jobs), "--study-dir", str(study_dir), *RUN),
    ]
    process = subprocess.Popen(
        [*MAZE, *command], env=clean_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 180
        while not trials(study_dir, "COMPLETE", "PRUNED"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no trial finished within three minutes"
            time.sleep(0.5)
        workers = descendants(process.pid)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert f"Interrupted: the study in {study_dir} keeps its finished trials" in stderr
    assert "Traceback" not in stdout + stderr
    assert not wait_until_gone(workers), "worker processes are left"
    kept = trials(study_dir, "COMPLETE", "PRUNED")
    interrupted = trials(study_dir, "FAIL")
    assert kept and len(kept) < 4
    assert interrupted and all(trial.user_attrs["reason"] == "interrupted" for trial in interrupted)
    assert not trials(study_dir, "RUNNING")

    maze(*command)
    finished = trials(study_dir, "COMPLETE", "PRUNED")
    assert len(finished) == 4
    assert [(trial.number, trial.params) for trial in finished[: len(kept)]] == [
        (trial.number, trial.params) for trial in kept
    ]


@pytest.mark.slow
def test_two_processes_share_one_study(tmp_path):
    study_dir = tmp_path / "study"
    command = [
        *MAZE,
        *("tune", "--env", "CartPole-v1", "--param", "algorithm.lr=loguniform:1e-4:1e-2"),
        *("--trials", "4", "--seeds", "1", "--study-dir", str(study_dir), *RUN),
    ]
    processes = [
        subprocess.Popen(command, env=clean_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    finished = trials(study_dir, "COMPLETE", "PRUNED")
    # both sampled and ran trials; a trial started as the other process finished one may be extra
    assert 4 <= len(finished) <= 5
    assert all("Trial " in stdout for stdout, _ in outputs)
    assert len({trial.number for trial in finished}) == len(finished)


@pytest.mark.slow
def test_a_worker_killed_from_outside_fails_its_trial_and_the_study_goes_on(tmp_path):
    study_dir = tmp_path / "study"
    command = [
        *MAZE,
        *("tune", "--env", "CartPole-v1", "--param", "algorithm.lr=loguniform:1e-4:1e-2"),
        *("--trials", "3", "--seeds", "1", "--jobs", "2", "--study-dir", str(study_dir), *RUN),
    ]
    process = subprocess.Popen(
        command, env=clean_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 180
        locks = []
        while not locks:  # a run in progress: its lock file holds its process id, a worker's
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no run started within three minutes"
            locks = [path.read_text() for path in study_dir.glob("trials/*/seed-0/.maze.lock")]
            locks = [int(text) for text in locks if text.strip()]
            time.sleep(0.2)
        os.kill(locks[0], signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=600)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "a worker process died" in stdout
    failed = trials(study_dir, "FAIL")
    assert failed and all("a worker process died" in trial.user_attrs["reason"] for trial in failed)
    assert len(trials(study_dir, "COMPLETE", "PRUNED")) == 3

"""Case 9: limits instead of hangs and runaway resources."""

from __future__ import annotations

import functools
import signal
import threading
import time
import warnings

import numpy as np
import pytest
import torch
from safety_support import QUICK_OVERRIDES, DyingEnv, HangingEnv, TinyEnv

from maze_core import RunContext
from maze_core.env.vector import SequentialVectorEnv, SubprocVectorEnv
from maze_core.errors import ConfigurationError, EnvWorkerError, MazeWarning
from maze_core.runners import DEFAULT_STEP_TIMEOUT_S


@pytest.mark.parametrize("runner", ["dev", "local"])
def test_an_env_that_never_returns_ends_training_with_the_models_kept(tmp_path, runner):
    # epoch 1 takes 8 training steps, so the training env hangs in epoch 2
    overrides = {**QUICK_OVERRIDES, "runner.step_timeout_s": 1.0}
    env = functools.partial(HangingEnv, hang_after=12)
    start = time.monotonic()
    with RunContext(env=env, runner=runner, overrides=overrides, run_dir=tmp_path, silent=True) as context:
        with pytest.raises(EnvWorkerError) as error:
            context.train(3)
    assert time.monotonic() - start < 60
    message = str(error.value)
    assert message.startswith("training env 0 failed in step: it did not return within step_timeout_s=1 s")
    assert "the last checkpoint and the best model are kept" in message
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert "policies" in torch.load(tmp_path / "state_dict.pt", weights_only=True)


@pytest.mark.parametrize("runner", ["dev", "local", "ray"])
def test_every_runner_has_a_generous_step_timeout_by_default(runner):
    """A hanging env ends a run (as above) unless the user asks to wait forever (None)."""
    assert DEFAULT_STEP_TIMEOUT_S == 600
    assert RunContext(env="CartPole-v1", runner=runner).runner.step_timeout_s == DEFAULT_STEP_TIMEOUT_S
    none = RunContext(env="CartPole-v1", runner=runner, overrides={"runner.step_timeout_s": None})
    assert none.runner.step_timeout_s is None


def test_the_step_timeout_keeps_someone_elses_sigalrm_handler_and_alarm():
    """The timeout is enforced with SIGALRM in the training process; a handler and an alarm set
    before (pytest-timeout's, a script's) still fire, and the handler is back after close()."""
    calls = []

    def handler(signum, frame):
        calls.append(time.monotonic())

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with SequentialVectorEnv([TinyEnv] * 2, step_timeout_s=5.0) as env:
            env.reset(seed=0)
            while time.monotonic() - start < 0.6:
                env.step({"action": np.zeros(2, dtype=np.int64)})
        assert len(calls) == 1 and 0.25 < calls[0] - start < 0.5
        assert signal.getsignal(signal.SIGALRM) is handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_training_outside_the_main_thread_runs_with_the_default_timeout(tmp_path):
    """SIGALRM only reaches the main thread: elsewhere in-process envs run without a limit, and
    training works as before."""
    errors = []

    def train():
        try:
            with RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as c:
                c.train(1)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and errors == []


def test_a_dead_worker_is_named_as_a_training_or_an_evaluation_env(tmp_path):
    env = functools.partial(DyingEnv, die_after=12)
    with RunContext(env=env, runner="local", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as rc:
        with pytest.raises(EnvWorkerError, match=r"^training env 0 failed in step: the worker process died"):
            rc.train(3)
    with SubprocVectorEnv([functools.partial(DyingEnv, die_after=1)], logging_prefix="eval") as env:
        env.reset(seed=0)
        env.step({"action": np.zeros(1, dtype=np.int64)})  # its first step works, the second kills it
        with pytest.raises(EnvWorkerError, match=r"^evaluation env 0 failed in step: the worker process"):
            env.step({"action": np.zeros(1, dtype=np.int64)})


def test_more_local_workers_than_cores_warns_before_starting_any(monkeypatch, tmp_path):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    overrides = {**QUICK_OVERRIDES, "runner.n_envs": 256, "runner.native_vector_env": False}
    with RunContext(
        env="CartPole-v1", runner="local", overrides=overrides, run_dir=tmp_path, silent=True
    ) as rc:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MazeWarning)  # raised before the first worker starts
            with pytest.raises(
                MazeWarning, match=r"256 worker processes on 2 CPU cores .*runner.n_workers=2"
            ):
                rc.train(1)


def test_a_native_vector_env_on_the_local_runner_needs_no_warning(monkeypatch, tmp_path):
    """CartPole-v1 is stepped natively: one worker per core, however many envs."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    overrides = {**QUICK_OVERRIDES, "runner.n_envs": 256}
    with RunContext(
        env="CartPole-v1", runner="local", overrides=overrides, run_dir=tmp_path, silent=True
    ) as rc:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MazeWarning)
            rc.train(1)


@pytest.mark.parametrize("value", [0, -1, float("inf"), "1"])
def test_step_timeout_must_be_a_positive_number(value):
    with pytest.raises(ConfigurationError, match="runner.step_timeout_s=.* is invalid"):
        RunContext(env="CartPole-v1", overrides={"runner.step_timeout_s": value})


def test_a_rollout_too_large_for_memory_is_refused_before_allocating(tmp_path):
    overrides = {**QUICK_OVERRIDES, "algorithm.n_rollout_steps": 10**9}
    start = time.monotonic()
    with RunContext(env="CartPole-v1", overrides=overrides, run_dir=tmp_path, silent=True) as context:
        with pytest.raises(ConfigurationError, match=r"n_rollout_steps=1000000000 .* needs about .* GiB"):
            context.train(1)
    assert time.monotonic() - start < 30

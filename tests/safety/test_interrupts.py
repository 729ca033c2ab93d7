"""Cases 2 and 10: an interrupted write or run never loses the last good files; smaller leaks."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from processes import wait_until_catching
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
            "Interrupted before the first epoch finished: a resumable checkpoint is kept, no best" in stderr
        )
        assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 0
        assert not list(run_dir.glob(".*maze-tmp")) and not (run_dir / ".maze.lock").exists()


def test_sigterm_to_the_process_group_of_a_local_run_ends_it_like_ctrl_c(tmp_path):
    """A supervisor's SIGTERM reaches every process of the job, in no particular order. Here it
    reaches the env workers a second before the parent: they leave it to the parent, which keeps
    the checkpoint, closes them and exits with 143 (not 1 for dead workers). Both kinds of worker:
    per-env (one gym env per worker) and native (a batch of envs per worker)."""
    runs = {}
    for native in (False, True):
        run_dir = tmp_path / f"native-{native}"
        command = [*MAZE, "train", "--env", "CartPole-v1", "--epochs", "0", "--run-dir", str(run_dir)]
        command += [*ENDLESS_EPOCH, "--runner", "local", "--set", "runner.n_envs=2"]
        command += ["--set", f"runner.native_vector_env={native}"]
        runs[run_dir] = subprocess.Popen(
            command,
            env=clean_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    try:
        for run_dir, process in runs.items():
            wait_until_training(process, run_dir)
        for process in runs.values():
            descendants = _descendants(process.pid)
            assert descendants, "the local runner started no worker processes"
            for pid in descendants:
                os.kill(pid, signal.SIGTERM)
        time.sleep(1.0)
        for process in runs.values():
            os.killpg(process.pid, signal.SIGTERM)
        outputs = {run_dir: process.communicate(timeout=60) for run_dir, process in runs.items()}
    finally:
        for process in runs.values():
            process.kill()
    for run_dir, process in runs.items():
        stdout, stderr = outputs[run_dir]
        assert process.returncode == 143, (stdout, stderr)
        assert "Traceback" not in stdout + stderr and "worker" not in stderr
        assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 0
        deadline = time.monotonic() + 10
        while _group_alive(process.pid):  # the workers are gone too
            assert time.monotonic() < deadline, f"processes of {run_dir.name} outlived the run"
            time.sleep(0.1)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), e.g. a forkserver and the workers it forked."""
    try:
        children = (Path("/proc") / str(pid) / "task" / str(pid) / "children").read_text().split()
    except OSError:
        return []
    return [descendant for child in map(int, children) for descendant in (child, *_descendants(child))]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


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


def test_sigterm_at_any_moment_of_the_start_exits_143_and_says_what_was_saved(tmp_path):
    """SIGTERM while Python imports, while the run is built and as it starts: always 143 and one
    message; "Continue with" only when there is a run to continue. Timed from the moment the
    command's first line installed its handler (before that, some 50 ms after the process starts,
    Python itself is still starting and nothing can handle a signal)."""
    for delay in (0.0, 0.5, 1.2, 2.2, 3.2):
        run_dir = tmp_path / f"run-{delay}"
        process = start_training(run_dir)
        try:
            wait_until_catching(process.pid, signal.SIGTERM)
            time.sleep(delay)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            process.kill()
        assert process.returncode == 143, (delay, stdout, stderr)
        assert "Traceback" not in stdout + stderr, (delay, stderr)
        if "Continue with" in stderr:
            assert (run_dir / "config.json").exists() and (run_dir / "checkpoint.pt").exists()
        else:
            assert "before the run saved anything" in stderr or "before anything was saved" in stderr, stderr
            assert not (run_dir / "checkpoint.pt").exists()


def test_ctrl_c_before_the_run_is_built_says_there_is_nothing_to_resume(tmp_path):
    """While typer parses the command line, while torch is imported (an interrupt raised inside
    its import of numpy used to be lost: the run went on), while the run is built."""
    for delay in (0.1, 0.3, 0.6):
        run_dir = tmp_path / f"run-{delay}"
        process = start_training(run_dir)
        try:
            wait_until_catching(process.pid, signal.SIGTERM)  # the command's first line has run
            time.sleep(delay)
            assert not (run_dir / "config.json").exists()
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
        assert process.returncode == 130, (delay, stdout, stderr)
        assert "Continue with" not in stderr and "Traceback" not in stdout + stderr
        assert "before the run saved anything" in stderr or "before anything was saved" in stderr, stderr


def test_ctrl_c_in_a_command_that_leaves_it_to_typer_says_so_and_exits_130(run_copy):
    """typer turns a KeyboardInterrupt that no command handled into a silent exit 130; ``maze``
    says what happened (here in ``maze evaluate``, once it has imported torch and evaluates)."""
    process = subprocess.Popen(
        [*MAZE, "evaluate", str(run_copy), "--episodes", "100000"],
        env=clean_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while "libtorch" not in Path(f"/proc/{process.pid}/maps").read_text():
            assert time.monotonic() < deadline and process.poll() is None, "maze evaluate did not start"
            time.sleep(0.05)
        time.sleep(1.0)  # past the imports: evaluating
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, (stdout, stderr)
    assert (
        stderr.strip().splitlines()[-1] == "Interrupted before anything was saved."
        and "Traceback" not in stderr
    )


def test_a_sigterm_whose_exception_was_lost_still_ends_training_at_the_next_update(tmp_path):
    """The handler's exception can be lost (raised while Python runs a finalizer); the trainer
    asks raise_if_terminated() before every update, so the run still ends with its checkpoint."""
    from maze_core.errors import Terminated, sigterm_as_interrupt

    with RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as context:
        context.train(1)
        with sigterm_as_interrupt(replace=True):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.5)  # the handler raises here
            except Terminated:
                pass  # lost, as in a finalizer
            with pytest.raises(Terminated):
                context.train(1)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 1

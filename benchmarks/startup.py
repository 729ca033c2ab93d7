"""B5 (start-up: ``maze --help``, ``maze plugins list``; ``maze evaluate`` of the quickstart's run,
against the same with ``OMP_NUM_THREADS=1`` set by hand) and B6 (the tutorial script, with its peak
memory): wall times of fresh processes, as a user sees them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import ROOT, scratch_dir

TUTORIAL = ROOT / "examples" / "plain_python_training.py"

#: the quickstart's ``maze train`` (scripts/quickstart.sh, phase 2), whose run ``maze evaluate`` times
QUICKSTART_TRAIN = [
    *("train", "--env", "CartPole-v1", "--algorithm", "a2c", "--seed", "0", "--epochs", "50"),
    *("--target-return", "475", "--set", "algorithm.gamma=0.99", "--set", "algorithm.lr=0.0007"),
    *("--set", "algorithm.n_rollout_steps=20", "--set", "algorithm.epoch_length=10"),
    *("--set", "algorithm.patience=0", "--set", "runner.n_envs=8"),
]
EVALUATE_EPISODES = 8
#: the two ways of running it that B5 compares (its contenders' names)
EVALUATE = f"maze evaluate RUN_DIR --episodes {EVALUATE_EPISODES}"
EVALUATE_ONE_THREAD = f"OMP_NUM_THREADS=1 {EVALUATE}"

#: B5's shortest training, the same for both: A2C, one update of 5 steps on one CartPole-v1 env,
#: [64, 64] networks, RMSprop, no evaluation; a fresh process each, from start to exit
ONE_UPDATE_SETTINGS = [
    *("--set", "algorithm.n_rollout_steps=5", "--set", "algorithm.epoch_length=1"),
    *("--set", "runner.n_envs=1", "--set", "runner.eval_episodes=0"),
    *("--set", "model.hidden_units=[64,64]", "--set", "algorithm.optimizer=rmsprop"),
]
ONE_UPDATE_MAZE = "maze train --env CartPole-v1 --epochs 1 (one update)"
ONE_UPDATE_SB3 = "Stable-Baselines3: A2C('MlpPolicy', 'CartPole-v1', n_steps=5).learn(5)"


@dataclass
class ProcessRun:
    seconds: float
    peak_rss_mib: float  # the largest process of the run (ru_maxrss of the child and its waited-for children)

    def __repr__(self) -> str:
        return f"{self.seconds:.2f} s, peak RSS {self.peak_rss_mib:.0f} MiB"


def _maze_command() -> str:
    """The ``maze`` entry point of the Python running the benchmarks (the project's venv)."""
    candidate = Path(sys.executable).parent / "maze"
    return str(candidate) if candidate.exists() else "maze"


# Runs a command and reports its wall time and peak RSS. It runs in a small fresh interpreter
# because a child forked from this (large) benchmark process would count our memory as its own:
# ru_maxrss survives fork and exec.
_SHIM = """
import os, sys, time
report, args = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(args[0], args)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as file:
    file.write(f"{seconds} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_process(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``args`` to completion in ``cwd`` (with ``env``, default this one); its wall time and
    peak resident memory."""
    report = cwd / ".maze-bench-report"
    result = subprocess.run(
        [sys.executable, "-S", "-c", _SHIM, str(report), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    seconds, max_rss_kib = report.read_text().split()
    return ProcessRun(float(seconds), int(max_rss_kib) / 1024)  # ru_maxrss is in KiB on Linux


def maze_help(_repetition: int = 0) -> ProcessRun:
    with scratch_dir() as cwd:
        return run_process([_maze_command(), "--help"], cwd)


def maze_plugins_list(_repetition: int = 0) -> ProcessRun:
    with scratch_dir() as cwd:
        return run_process([_maze_command(), "plugins", "list"], cwd)


def tutorial(_repetition: int = 0) -> ProcessRun:
    """``examples/plain_python_training.py`` run as a user would, in an empty directory (it writes
    ``outputs/`` there): one epoch on the dev runner, one on the local runner, one evaluation."""
    with scratch_dir() as cwd:
        return run_process([sys.executable, str(TUTORIAL)], cwd)


def maze_one_update(_repetition: int = 0) -> ProcessRun:
    """``maze train`` of one update (``ONE_UPDATE_SETTINGS``) in an empty directory; it writes its
    run directory there (config, checkpoint, best model, statistics, events; no curve: no episode
    ends in 5 steps)."""
    with scratch_dir() as cwd:
        command = [_maze_command(), "train", "--env", "CartPole-v1", "--epochs", "1", "--seed", "0"]
        return run_process([*command, *ONE_UPDATE_SETTINGS], cwd)


def sb3_one_update(_repetition: int = 0) -> ProcessRun:
    """Stable-Baselines3's A2C on the same one update (its defaults: [64, 64] networks, RMSprop)."""
    code = "from stable_baselines3 import A2C; A2C('MlpPolicy', 'CartPole-v1', n_steps=5, seed=0).learn(5)"
    with scratch_dir() as cwd:
        return run_process([sys.executable, "-c", code], cwd)


def quickstart_run(directory: Path) -> Path:
    """The quickstart's run, trained (untimed) into ``directory``."""
    run_dir = directory / "quickstart"
    subprocess.run(
        [_maze_command(), *QUICKSTART_TRAIN, "--run-dir", str(run_dir)],
        cwd=directory,
        capture_output=True,
        check=True,
    )
    return run_dir


def maze_evaluate(run_dir: Path, omp_threads: str | None) -> ProcessRun:
    """``maze evaluate RUN_DIR --episodes 8`` with ``OMP_NUM_THREADS`` set to ``omp_threads`` (None:
    unset, as a user's shell has it)."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = omp_threads
    command = [_maze_command(), "evaluate", str(run_dir), "--episodes", str(EVALUATE_EPISODES)]
    return run_process(command, run_dir.parent, env=env)

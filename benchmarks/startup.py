"""B5 (start-up: ``maze --help``, ``maze plugins list``) and B6 (the tutorial script, with its peak
memory): wall times of fresh processes, as a user sees them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import ROOT, scratch_dir

TUTORIAL = ROOT / "examples" / "plain_python_training.py"


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


def run_process(args: list[str], cwd: Path) -> ProcessRun:
    """Run ``args`` to completion in ``cwd``; its wall time and peak resident memory."""
    report = cwd / ".maze-bench-report"
    result = subprocess.run(
        [sys.executable, "-S", "-c", _SHIM, str(report), *args],
        cwd=cwd,
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

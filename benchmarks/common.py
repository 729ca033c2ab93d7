"""What every benchmark shares: alternating contenders, medians and spread, the machine's description."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")

#: torch's thread count before any benchmark changed it: what a library gets that does not set it
DEFAULT_TORCH_THREADS = torch.get_num_threads()


@dataclass
class Series:
    """The values of one contender over the repetitions, in the order they were measured."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def describe(self, fmt: str = "{:.0f}") -> str:
        """``median (min-max)``."""
        if len(self.values) == 1:
            return fmt.format(self.median)
        return f"{fmt.format(self.median)} ({fmt.format(self.low)}-{fmt.format(self.high)})"


class Stopwatch:
    """Wall time and this process's CPU time (all threads) of a ``with`` block doing ``steps`` env steps.

    Wall time is what the benchmarks report. CPU time is shown next to it because this machine is
    shared: other people's work stretches wall time but hardly changes the CPU time a run needs.
    """

    def __init__(self, steps: int = 0):
        self.steps = steps
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.wall

    @property
    def steps_per_cpu_second(self) -> float:
        return self.steps / self.cpu

    def __repr__(self) -> str:
        return (
            f"{self.steps} steps in {self.wall:.2f} s ({self.steps_per_second:.0f}/s), "
            f"CPU {self.cpu:.2f} s ({self.steps_per_cpu_second:.0f}/s)"
        )


def ratio(numerator: Series, denominator: Series) -> Series:
    """Per-repetition ratios: repetition ``i`` of both contenders ran back to back, so their ratio
    is less exposed to the machine's load drifting than a ratio of two medians."""
    return Series([a / b for a, b in zip(numerator.values, denominator.values, strict=True)])


def alternate(contenders: dict[str, Callable[[int], T]], repetitions: int, log=print) -> dict[str, list[T]]:
    """Run every contender ``repetitions`` times, interleaved (A B C, B C A, C A B, ...), so that
    slow phases of a shared machine hit all of them alike. A contender gets the repetition index
    (use it as the seed); the results are listed by repetition, whatever order they ran in."""
    names = list(contenders)
    results: dict[str, list[T]] = {name: [] for name in names}
    for repetition in range(repetitions):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            result = contenders[name](repetition)
            results[name].append(result)
            log(f"    {name} #{repetition + 1}: {result}")
    return results


def series(results: list, value: Callable[[Any], float]) -> Series:
    return Series([value(result) for result in results])


@contextlib.contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run a contender with ``n_threads`` torch threads and restore the previous setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """An empty working directory for runs that write files (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="maze-bench-") as directory:
        yield Path(directory)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, str]:
    """The machine, the versions and the date, for the report."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical CPUs",
        "load average at start (1, 5, 15 min)": load,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__ + f" (default threads here: {DEFAULT_TORCH_THREADS})",
        "numpy": _version("numpy"),
        "gymnasium": _version("gymnasium"),
        "stable-baselines3": _version("stable-baselines3"),
        "maze-core": f"{_version('maze-core')}, commit {_git_commit()}",
    }


def replace_section(page: Path, heading: str, section: str) -> None:
    """Replace the ``## `` section of ``page`` that starts with ``heading`` (up to the next ``## ``
    heading) with ``section``, or append it at the end when the page has none."""
    lines = page.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        text = "\n".join(lines).rstrip() + "\n\n" + section.rstrip() + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before = "\n".join(lines[:start]).rstrip()
        after = "\n".join(lines[end:]).strip()
        text = before + "\n\n" + section.rstrip() + "\n" + ("\n" + after + "\n" if after else "")
    page.write_text(text)

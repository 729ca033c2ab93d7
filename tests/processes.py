"""Process ids from /proc: what a test started, and whether it is still running.

Tests check that what they started is gone by process id; nothing is looked up or killed by name.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path


def descendants(*pids: int) -> set[int]:
    """The process ids of all descendants of ``pids`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, frontier = set(), set(pids)
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids) -> set[int]:
    """Those of ``pids`` that still run (zombies count as gone)."""
    running = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat[stat.rindex(")") + 2] != "Z":
                running.add(pid)
    return running


def wait_until_gone(pids, timeout: float = 15.0) -> set[int]:
    """Wait for ``pids`` to end; returns those still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def parent(pid: int) -> int:
    """The parent process id of ``pid``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def node_processes(*nodes) -> set[int]:
    """The process ids of Ray nodes: their own processes (raylet, GCS, ...) and all they started."""
    pids = {
        info.process.pid
        for node in nodes
        if node is not None
        for infos in node.all_processes.values()
        for info in infos
    }
    return pids | descendants(*pids)


def wait_until_catching(pid: int, signum: int, timeout: float = 60.0) -> None:
    """Wait until process ``pid`` has a handler of its own for ``signum`` (``SigCgt`` in
    /proc/PID/status): from then on its code, not the default action, decides what the signal does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("SigCgt:") and int(line.split()[1], 16) >> (signum - 1) & 1:
                    return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not install a handler for signal {signum} in {timeout} s")

"""Worker processes of the vector envs (:class:`~maze_core.env.subproc.SubprocVectorEnv` and the
native env workers): starting them without re-running the user's script, passing on warning filters,
splitting envs among them, describing how one died, and shutting them down."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import time
import warnings
from multiprocessing.connection import Connection


@contextlib.contextmanager
def main_module_not_reimported():
    """Start a worker without re-running the user's main script in it.

    spawn and forkserver children normally re-import ``__main__`` so that functions defined there
    can be unpickled; a training script imports torch, so that costs each worker about a second.
    Our workers receive everything by cloudpickle (which ships ``__main__`` functions and classes
    by value), so they never need the main module: hiding its file while the process starts keeps
    multiprocessing from scheduling the re-import.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if path is None:
        yield
        return
    del main.__file__
    main.__spec__ = None
    try:
        yield
    finally:
        main.__file__ = path
        main.__spec__ = spec


def warning_filters() -> list[tuple]:
    """This process's warning filters, for its env workers to apply too (a script's ``-W`` options and
    ``warnings.filterwarnings`` calls then hold in its workers); filters of warning classes defined
    outside the standard library are left out, since a worker may not be able to import them."""
    return [
        (action, getattr(message, "pattern", message), category, getattr(module, "pattern", module), lineno)
        for action, message, category, module, lineno in warnings.filters
        if category.__module__ == "builtins"
    ]


def default_start_method() -> str:
    """``forkserver`` where available (fast, and safe with threads and torch), else ``spawn``."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def split_evenly(n_envs: int, n_workers: int) -> list[list[int]]:
    """Env indices ``0..n_envs-1`` in ``n_workers`` contiguous groups whose sizes differ by at most one."""
    size, extra = divmod(n_envs, n_workers)
    groups, start = [], 0
    for worker in range(n_workers):
        end = start + size + (worker < extra)
        groups.append(list(range(start, end)))
        start = end
    return groups


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped responding"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def shutdown_workers(processes: list, connections: list[Connection], grace_period: float = 2.0) -> None:
    """Ask every worker to close its env, then terminate whatever is still running."""
    for connection in connections:
        try:
            connection.send(("close", None))
        except Exception:  # noqa: BLE001 - a dead worker needs no message
            pass
    deadline = time.monotonic() + grace_period
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(timeout=1.0)
        if process.is_alive():
            process.kill()
            process.join()
    for connection in connections:
        connection.close()

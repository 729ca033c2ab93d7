"""Where trials run: in this process, in worker processes, or as Ray tasks.

Each executor runs :func:`~maze_tune.trial.run_trial` for the study's process: ``submit(key,
*args)`` starts a trial, ``next_done()`` waits for one to end and returns ``(key, outcome)`` (the
outcome dict, or the exception the trial raised), ``stop()`` ends the trials in progress at once.
Scheduling is the pool's or Ray's; the study's process only keeps ``jobs`` trials submitted.
"""

from __future__ import annotations

import contextlib
from typing import Any

from maze_core.errors import ConfigurationError
from maze_tune.trial import one_line


class _InProcess:
    """One trial at a time, in this process (``jobs=1``): no worker to start, and Ctrl-C reaches
    the trial's run directly."""

    def __init__(self):
        self._done: list = []

    def submit(self, key, *args) -> None:
        from maze_tune.trial import run_trial

        try:
            outcome = run_trial(*args)
        except Exception as error:  # a bug in an env or plugin fails this trial, not the study
            outcome = error
        self._done.append((key, outcome))

    def next_done(self):
        return self._done.pop(0)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Processes:
    """Trials in ``jobs`` worker processes (started fresh, not forked from this process's threads).

    Ctrl-C goes to this process only; :meth:`stop` ends the workers by their process ids, which
    each reports when it starts. A worker killed from outside (the kernel's out-of-memory killer,
    say) breaks the pool: the trials in it fail, and the next ones get a new pool.
    """

    def __init__(self, jobs: int):
        import multiprocessing
        import queue

        self._jobs = jobs
        self._context = multiprocessing.get_context("spawn")
        self._pids = self._context.SimpleQueue()  # each worker's process id, put when it starts
        self._done: queue.Queue = queue.Queue()
        self._pool = self._new_pool()
        self._pool_of: dict = {}  # key -> the pool its trial was submitted to

    def _new_pool(self):
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            self._jobs, mp_context=self._context, initializer=_worker_start, initargs=(self._pids,)
        )

    def submit(self, key, *args) -> None:
        from maze_tune.trial import run_trial

        future = self._pool.submit(run_trial, *args)
        self._pool_of[key] = self._pool
        future.add_done_callback(lambda done: self._done.put((key, done)))

    def next_done(self):
        from concurrent.futures.process import BrokenProcessPool

        key, future = self._done.get()
        pool = self._pool_of.pop(key)
        error = future.exception()
        if not isinstance(error, BrokenProcessPool):
            return key, error or future.result()
        if pool is self._pool:
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
        return key, RuntimeError("a worker process died (killed from outside, e.g. for lack of memory)")

    def stop(self) -> None:
        import os
        import signal

        while not self._pids.empty():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pids.get(), signal.SIGTERM)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _worker_start(pids) -> None:
    """A worker says who it is, ignores Ctrl-C (the study's process handles it) and ends at once
    on SIGTERM (the study's process fails the trial it ran)."""
    import os
    import signal

    pids.put(os.getpid())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))


class _Ray:
    """Trials as Ray tasks (one CPU each, spread over the nodes), on the cluster at ``address``."""

    def __init__(self, address: str, jobs: int):
        try:
            import ray
        except ImportError:
            raise ConfigurationError(
                "trials on Ray need Ray: pip install maze-ray (or ray), or leave --ray out to run "
                "them as processes on this machine"
            ) from None
        self._ray = ray
        self._started = _connect_ray(ray, address, jobs)
        self._task = ray.remote(_ray_trial).options(num_cpus=1, max_retries=0, scheduling_strategy="SPREAD")
        self._refs: dict = {}

    def submit(self, key, *args) -> None:
        self._refs[self._task.remote(*args)] = key

    def next_done(self):
        [ready], _ = self._ray.wait(list(self._refs), num_returns=1)
        key = self._refs.pop(ready)
        try:
            return key, self._ray.get(ready)
        except Exception as error:  # the task raised, or its worker or node died
            return key, error

    def stop(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def _ray_trial(*args) -> dict[str, Any]:
    """:func:`~maze_tune.trial.run_trial` in a Ray task, with the node it ran on."""
    import ray

    from maze_tune.trial import run_trial

    return {**run_trial(*args), "node": ray.get_runtime_context().get_node_id()}


def _connect_ray(ray, address: str, jobs: int) -> bool:
    """Connect to Ray (a driver already connected is used as it is); True when this started it."""
    import logging
    import os

    if ray.is_initialized():
        return False
    options = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == "local":
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address="local", num_cpus=jobs, include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ConfigurationError(
            f"--ray {address}: cannot connect to a Ray cluster ({one_line(error)}); start one with "
            "`ray start --head`, or give --ray local for a private instance on this machine"
        ) from None
    return True


class executor:  # noqa: N801  (used as a context manager, like a function)
    """The executor of ``jobs`` trials at once: this process, worker processes or Ray; closed
    after the study (stopped first if interrupted)."""

    def __init__(self, jobs: int, ray: str | None):
        if ray is not None:
            self.executor = _Ray(ray, jobs)
        else:
            self.executor = _InProcess() if jobs == 1 else _Processes(jobs)

    def __enter__(self):
        return self.executor

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None:
            self.executor.stop()
        self.executor.close()

"""``SubprocVectorEnv``: envs stepped in worker processes (see :mod:`maze_core.env.vector_base` for
what every vector env does)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import time
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle

from maze_core.env._worker import (
    IN_SHARED_MEMORY,
    RemoteError,
    SharedArrays,
    shared_layout,
    worker_main,
)
from maze_core.env.faults import (
    checked_step_timeout,
    env_error,
    timeout_detail,
)
from maze_core.env.names import EnvFactory
from maze_core.env.processes import (
    default_start_method,
    describe_exit,
    main_module_not_reimported,
    shutdown_workers,
    split_evenly,
    warning_filters,
)
from maze_core.env.vector_base import VectorEnv, check_factories, check_same_spaces
from maze_core.errors import ConfigurationError, EnvWorkerError

#: how often a waiting parent checks that the worker it waits for is still alive (seconds)
_LIVENESS_INTERVAL = 0.2


#: the step command when the actions are in shared memory, pickled once (``recv`` unpickles it)
_STEP_FROM_SHARED_MEMORY = cloudpickle.dumps(("step", None))


class SubprocVectorEnv(VectorEnv):
    """Runs its envs in worker processes (for envs whose step is expensive): by default one worker
    per env; with ``n_workers`` the envs are split into that many contiguous groups, each stepped
    one env after the other by its worker (fewer processes, and one message per worker per step).

    Factories are shipped to the workers with cloudpickle, so lambdas, closures and functions
    defined in ``__main__`` work. With the default start method (``forkserver``, else ``spawn``)
    the workers import your main module, so a script must create the vector env under
    ``if __name__ == "__main__":``. Per step each worker gets one short message and sends one
    back (a compact record per env). For single-actor envs, observations and actions travel through
    shared memory (one block for all envs) instead of being pickled; an action or observation that
    does not match its space's shape and dtype exactly is pickled as usual.

    If an env raises (in its factory, ``reset`` or ``step``) or a worker dies, the parent raises
    :class:`~maze_core.errors.EnvWorkerError` naming the env (``error.worker_index``; for a worker
    that died, its first env) with the env's traceback (in the message and
    ``error.env_traceback``), and shuts all workers down. Workers ignore Ctrl-C (the parent handles
    it) and run torch with one thread.
    """

    def __init__(
        self,
        env_factories: Sequence[EnvFactory],
        logging_prefix: str | None = None,
        start_method: str | None = None,
        n_workers: int | None = None,
        step_timeout_s: float | None = None,
    ):
        factories = check_factories(env_factories)
        self._step_timeout_s = checked_step_timeout(step_timeout_s)
        self.logging_prefix = logging_prefix  # errors while the workers start name the envs by it
        if n_workers is not None and (
            not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1
        ):
            raise ConfigurationError(
                f"n_workers={n_workers!r} is invalid: it must be an integer >= 1 or None"
            )
        payloads = []
        for index, factory in enumerate(factories):
            try:
                payloads.append(cloudpickle.dumps(factory))
            except Exception as exc:
                raise ConfigurationError(
                    f"env factory {index} ({factory!r}) cannot be pickled, so it cannot be sent to a worker "
                    f"process: {type(exc).__name__}: {exc}. Create unpicklable resources inside the factory."
                ) from exc
        context = multiprocessing.get_context(start_method or default_start_method())

        #: env indices of each worker (contiguous, sizes differing by at most one)
        self._groups = split_evenly(len(payloads), min(n_workers or len(payloads), len(payloads)))
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._connections: list[Connection] = []
        self._shared: SharedArrays | None = None
        self._closed = False
        # shuts the workers down on close(), on garbage collection and at interpreter exit
        self._finalizer = weakref.finalize(self, shutdown_workers, self._processes, self._connections)
        for worker, group in enumerate(self._groups):
            connection, worker_connection = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(worker_connection, group, [payloads[index] for index in group], warning_filters()),
                name=f"maze-env-worker-{worker}",
                daemon=True,
            )
            with main_module_not_reimported():
                process.start()
            worker_connection.close()  # so that a dead worker shows up as EOF here
            self._processes.append(process)
            self._connections.append(connection)

        descriptions = self._receive_all_envs("the env factory")
        try:
            for index, description in enumerate(descriptions[1:], start=1):
                check_same_spaces(index, description, descriptions[0])
        except ConfigurationError:
            self._close_envs()
            raise
        super().__init__(len(payloads), *descriptions[0], logging_prefix=logging_prefix)
        if not self._track_actors:
            self._shared = self._share_memory()

    def _share_memory(self) -> SharedArrays | None:
        """Set up shared memory for observations and actions; None if the spaces do not allow it or
        the system has none to give (then everything is pickled)."""
        layout = shared_layout(self.observation_space, self.action_space, self.n_envs)
        if layout is None:
            return None
        try:
            shared, path = SharedArrays.create(*layout)
        except OSError:
            return None
        try:
            for worker in range(len(self._groups)):
                self._send(worker, "attach", (path, *layout))
            self._receive_all("attach")
        except BaseException:
            shared.close()
            raise
        finally:
            # every worker has mapped it: the memory lives as long as the mappings
            with contextlib.suppress(OSError):  # (Windows cannot remove a mapped file)
                os.unlink(path)
        return shared

    @property
    def processes(self) -> list[multiprocessing.process.BaseProcess]:
        """The worker processes (one per env unless ``n_workers`` was given)."""
        return list(self._processes)

    @property
    def n_workers(self) -> int:
        return len(self._processes)

    def _step_envs(self, actions):
        if self._shared is not None and self._shared.write_actions(actions):
            for worker in range(len(self._groups)):
                self._send_bytes(worker, "step", _STEP_FROM_SHARED_MEMORY)
        else:
            per_env = self._split_actions(actions)
            for worker, group in enumerate(self._groups):
                self._send(worker, "step", [per_env[index] for index in group])
        return self._receive_all_envs("step", self._step_timeout_s)

    def _stack(self, observations):
        shared = self._shared
        if shared is None:
            return super()._stack(observations)
        # a worker sends IN_SHARED_MEMORY when it wrote its observation into shared memory; copy
        # them out, as the next step overwrites them
        if observations.count(IN_SHARED_MEMORY) == len(observations):
            return {key: array.copy() for key, array in shared.observations.items()}
        rows = shared.observations.items()
        return super()._stack(
            [
                {key: array[index] for key, array in rows} if obs is IN_SHARED_MEMORY else obs
                for index, obs in enumerate(observations)
            ]
        )

    def _reset_envs(self, seeds, options):
        for worker, group in enumerate(self._groups):
            self._send(worker, "reset", ([seeds[index] for index in group], options))
        return self._receive_all_envs("reset", self._step_timeout_s)

    def _seed_envs(self, seeds):
        for worker, group in enumerate(self._groups):
            self._send(worker, "seed", [seeds[index] for index in group])
        self._receive_all("seed")

    def call(self, name: str, *args, **kwargs) -> list[Any]:
        self._check_open()
        for worker in range(len(self._groups)):
            self._send(worker, "call", (name, args, kwargs))
        return self._receive_all_envs(f"call {name!r}")

    def _close_envs(self) -> None:
        self._closed = True
        self._finalizer()
        if self._shared is not None:
            self._shared.close()

    def _send(self, worker: int, command: str, payload: Any) -> None:
        try:
            self._connections[worker].send((command, payload))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._failure(worker, command, None) from None

    def _send_bytes(self, worker: int, command: str, message: bytes) -> None:
        """Send a message pickled beforehand (the worker's ``recv`` unpickles it)."""
        try:
            self._connections[worker].send_bytes(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._failure(worker, command, None) from None

    def _receive_all_envs(self, during: str, timeout: float | None = None) -> list[Any]:
        """One reply per env, in env order (each worker replies with a list for its envs)."""
        return [reply for replies in self._receive_all(during, timeout) for reply in replies]

    def _receive_all(self, during: str, timeout: float | None = None) -> list[Any]:
        """One message from every worker, in worker order; raises EnvWorkerError if one failed or died,
        or if ``timeout`` seconds pass before all have replied (then all workers are stopped).

        Waits on all pipes at once and, while nothing arrives, checks every ``_LIVENESS_INTERVAL``
        that the workers still waited for are alive (a dead worker normally shows up as EOF at once).
        """
        if not hasattr(select, "poll"):  # pragma: no cover - Windows
            return self._receive_all_portable(during, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        connections = self._connections
        messages: list[Any] = [None] * len(connections)
        # select.poll directly: multiprocessing.connection.wait builds a selector on every call,
        # which costs more than the pipe I/O itself
        poller = select.poll()
        waiting = {}
        for worker, connection in enumerate(connections):
            waiting[connection.fileno()] = worker
            poller.register(connection, select.POLLIN)
        while waiting:
            ready = poller.poll(_LIVENESS_INTERVAL * 1000)
            if not ready:
                for worker in waiting.values():
                    if not self._processes[worker].is_alive() and not connections[worker].poll():
                        raise self._failure(worker, during, None)
                if deadline is not None and time.monotonic() > deadline:
                    raise self._timeout(next(iter(waiting.values())), during)
            for fd, _ in ready:
                worker = waiting.pop(fd)
                poller.unregister(fd)
                messages[worker] = self._receive(worker, during)
        return messages

    def _receive_all_portable(self, during: str, timeout: float | None) -> list[Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        messages: list[Any] = [None] * len(self._connections)
        waiting = {connection: worker for worker, connection in enumerate(self._connections)}
        while waiting:
            ready = wait(list(waiting), timeout=_LIVENESS_INTERVAL)
            if not ready:
                for connection, worker in waiting.items():
                    if not self._processes[worker].is_alive() and not connection.poll():
                        raise self._failure(worker, during, None)
                if deadline is not None and time.monotonic() > deadline:
                    raise self._timeout(next(iter(waiting.values())), during)
            for connection in ready:
                worker = waiting.pop(connection)
                messages[worker] = self._receive(worker, during)
        return messages

    def _receive(self, worker: int, during: str) -> Any:
        try:
            message = self._connections[worker].recv()
        except (EOFError, OSError):
            raise self._failure(worker, during, None) from None
        if type(message) is RemoteError:
            raise self._failure(worker, message.during, message.traceback, message.index, message.detail)
        return message

    def _failure(
        self, worker: int, during: str, env_traceback: str | None, index: int = -1, summary: str = ""
    ) -> EnvWorkerError:
        """Shut all workers down and describe what happened to env ``index`` of ``worker`` (its
        first env when the whole worker died); ``summary``: the env's exception in one line."""
        process = self._processes[worker]
        group = self._groups[worker]
        if index < 0:
            index = group[0]
        if env_traceback is None:
            process.join(timeout=1.0)
            whose = f" of envs {group[0]}-{group[-1]}" if len(group) > 1 else ""
            detail = f"the worker process{whose} died ({describe_exit(process.exitcode)})"
            if during == "the env factory":
                detail += (
                    " before it could build its env; its own error output is above. If this runs a "
                    'script, create the SubprocVectorEnv under `if __name__ == "__main__":` (workers '
                    "import your main module)."
                )
        else:
            summary = summary or env_traceback.strip().splitlines()[-1]
            detail = f"{summary}\n\nTraceback in env worker {index}:\n{env_traceback.rstrip()}"
        self._close_envs()
        error = env_error(index, during, detail, env_traceback, self.logging_prefix)
        error.args = (f"{error.args[0]}\n(all env workers of this SubprocVectorEnv have been shut down)",)
        return error

    def _timeout(self, worker: int, during: str) -> EnvWorkerError:
        """Stop all workers: one of them (``worker``, named by its first env) exceeded the step timeout."""
        self._close_envs()
        return env_error(
            self._groups[worker][0], during, timeout_detail(self._step_timeout_s), None, self.logging_prefix
        )

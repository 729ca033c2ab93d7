"""Native vector envs in worker processes: the local runner's way to step a batched env.

:class:`WorkerVectorEnv` is itself a gymnasium ``VectorEnv``: it splits ``n_envs`` into
``n_workers`` contiguous groups, and each worker process builds one native vector env of its group
(``make(group_size)``) and steps it as one batch. Per step every worker gets its slice of the
actions in one message and answers with its batch of results in one message; the parent
concatenates them. :class:`~maze_core.env.native.NativeVectorEnv` then adapts the whole as usual.
This module stays light (no torch), since every worker imports it.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
import weakref
from typing import Any

import cloudpickle
import gymnasium
import numpy as np
from gymnasium.vector.utils import batch_space

from maze_core.env._worker import _limit_torch_threads, _load_factory, leave_interrupts_to_the_parent
from maze_core.errors import ConfigurationError, EnvWorkerError

#: how often a waiting parent checks that its workers are alive (seconds)
_LIVENESS_INTERVAL = 0.2


class WorkerVectorEnv(gymnasium.vector.VectorEnv):
    """``n_envs`` envs of a vector env factory ``make(n) -> VectorEnv``, in ``n_workers`` processes.

    An exception in a worker, a worker that dies, or (with ``step_timeout_s``) a worker that does
    not answer a step or reset in time raises :class:`~maze_core.errors.EnvWorkerError` naming the
    worker's envs, after which all workers are shut down.
    """

    def __init__(
        self,
        make,
        n_envs: int,
        n_workers: int | None = None,
        start_method: str | None = None,
        step_timeout_s: float | None = None,
    ):
        from maze_core.env.faults import checked_step_timeout
        from maze_core.env.processes import (
            default_start_method,
            main_module_not_reimported,
            shutdown_workers,
            split_evenly,
        )

        self._step_timeout_s = checked_step_timeout(step_timeout_s)

        try:
            payload = cloudpickle.dumps(make)
        except Exception as exc:
            raise ConfigurationError(
                f"the vector env factory {make!r} cannot be pickled, so it cannot be sent to a worker "
                f"process: {type(exc).__name__}: {exc}."
            ) from exc
        self.num_envs = n_envs
        self._groups = split_evenly(n_envs, min(n_workers or 1, n_envs))
        self._slices = [slice(group[0], group[-1] + 1) for group in self._groups]
        context = multiprocessing.get_context(start_method or default_start_method())
        self.processes: list = []
        self._connections: list = []
        self._finalizer = weakref.finalize(self, shutdown_workers, self.processes, self._connections)
        for index, group in enumerate(self._groups):
            connection, worker_connection = context.Pipe()
            process = context.Process(
                target=_worker_main,
                args=(worker_connection, len(group), payload),
                name=f"maze-vector-env-worker-{index}",
                daemon=True,
            )
            with main_module_not_reimported():
                process.start()
            worker_connection.close()
            self.processes.append(process)
            self._connections.append(connection)
        descriptions = self._receive_all("the vector env factory")
        observation_space, action_space, metadata = descriptions[0]
        self.single_observation_space = observation_space
        self.single_action_space = action_space
        self.observation_space = batch_space(observation_space, n_envs)
        self.action_space = batch_space(action_space, n_envs)
        self.metadata = metadata

    @property
    def n_workers(self) -> int:
        return len(self.processes)

    def reset(self, *, seed=None, options=None):
        for index, part in enumerate(self._slices):
            if seed is None or isinstance(seed, (int, np.integer)):
                worker_seed = None if seed is None else int(seed) + part.start
            else:
                worker_seed = list(seed)[part]
            self._send(index, ("reset", (worker_seed, options)))
        results = self._receive_all("reset", self._step_timeout_s)
        observations, infos = zip(*results, strict=True)
        return _concatenate(observations), _concatenate_infos(infos, self._groups)

    def step(self, actions):
        for index, part in enumerate(self._slices):
            self._send(index, ("step", _rows(actions, part)))
        results = self._receive_all("step", self._step_timeout_s)
        observations, rewards, terminated, truncated, infos = zip(*results, strict=True)
        return (
            _concatenate(observations),
            np.concatenate(rewards),
            np.concatenate(terminated),
            np.concatenate(truncated),
            _concatenate_infos(infos, self._groups),
        )

    def close(self, **kwargs) -> None:
        self._finalizer()

    def _send(self, worker: int, message) -> None:
        try:
            self._connections[worker].send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._failure(worker, message[0], None) from None

    def _receive_all(self, during: str, timeout_s: float | None = None) -> list[Any]:
        messages = []
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for worker, connection in enumerate(self._connections):
            while not connection.poll(_LIVENESS_INTERVAL):
                if not self.processes[worker].is_alive():
                    raise self._failure(worker, during, None)
                if deadline is not None and time.monotonic() > deadline:
                    raise self._failure(worker, during, None, timed_out=True)
            try:
                message = connection.recv()
            except (EOFError, OSError):
                raise self._failure(worker, during, None) from None
            if isinstance(message, _RemoteError):
                raise self._failure(worker, during, message.traceback)
            messages.append(message)
        return messages

    def _failure(
        self, worker: int, during: str, worker_traceback: str | None, timed_out: bool = False
    ) -> EnvWorkerError:
        from maze_core.env.faults import timeout_detail
        from maze_core.env.processes import describe_exit

        group = self._groups[worker]
        if timed_out:
            detail = timeout_detail(self._step_timeout_s)
        elif worker_traceback is None:
            self.processes[worker].join(timeout=1.0)
            detail = f"the worker process died ({describe_exit(self.processes[worker].exitcode)})"
        else:
            last_line = worker_traceback.strip().splitlines()[-1]
            detail = f"{last_line}\n\nTraceback in the worker:\n{worker_traceback.rstrip()}"
        self.close()
        error = EnvWorkerError(
            f"the vector env of envs {group[0]}-{group[-1]} failed in {during}: {detail}\n"
            "(all workers of this vector env have been shut down)"
        )
        error.worker_index = group[0]
        error.env_traceback = worker_traceback
        return error


class _RemoteError:
    def __init__(self, worker_traceback: str):
        self.traceback = worker_traceback


def _rows(actions, part: slice):
    if isinstance(actions, dict):
        return {key: value[part] for key, value in actions.items()}
    return actions[part]


def _concatenate(parts):
    if isinstance(parts[0], dict):
        return {key: _concatenate([part[key] for part in parts]) for key in parts[0]}
    return np.concatenate(parts)


def _concatenate_infos(infos, groups) -> dict:
    """Gymnasium vector infos of the workers as one (arrays and ``_key`` masks over all envs)."""
    if len(infos) == 1:
        return infos[0]
    merged: dict = {}
    n_envs = groups[-1][-1] + 1
    for info, group in zip(infos, groups, strict=True):
        for key, value in info.items():
            if isinstance(value, dict):
                continue  # nested infos (e.g. final_info) are merged below
            array = np.asarray(value)
            if key not in merged:
                merged[key] = np.zeros((n_envs, *array.shape[1:]), dtype=array.dtype)
            merged[key][group[0] : group[-1] + 1] = array
    for key in {key for info in infos for key, value in info.items() if isinstance(value, dict)}:
        merged[key] = _concatenate_infos([info.get(key, {}) for info in infos], groups)
        merged.setdefault(f"_{key}", np.zeros(n_envs, dtype=bool))
    return merged


def _worker_main(connection, n_envs: int, payload: bytes) -> None:
    leave_interrupts_to_the_parent()
    _limit_torch_threads()
    env = None
    try:
        env = _load_factory(payload)(n_envs)
        if not isinstance(env, gymnasium.vector.VectorEnv) or env.num_envs != n_envs:
            raise ConfigurationError(
                f"the vector env factory returned {env!r}, not a gymnasium VectorEnv of {n_envs} envs"
            )
        connection.send((env.single_observation_space, env.single_action_space, dict(env.metadata)))
        while True:
            try:
                command, argument = connection.recv()
            except EOFError:
                return
            if command == "step":
                connection.send(env.step(argument))
            elif command == "reset":
                seed, options = argument
                connection.send(env.reset(seed=seed, options=options))
            elif command == "close":
                connection.send(None)
                return
    except BaseException:  # noqa: BLE001 - everything goes back to the parent
        try:
            connection.send(_RemoteError(traceback.format_exc()))
        except Exception:  # noqa: BLE001 - the parent may be gone
            pass
    finally:
        if env is not None:
            env.close()
        connection.close()

"""Native vector envs in worker processes: the local runner's way to step a batched env.

:class:`WorkerVectorEnv` is itself a gymnasium ``VectorEnv``. It splits ``n_envs`` into
``n_shards`` contiguous *shards*, each one native vector env (``make(shard_size)``) with its own
random generator, seeded with the run's seed plus the index of the shard's first env. The shards
depend on ``n_envs`` and ``n_shards`` only, never on the number of workers: each of the
``n_workers`` worker processes hosts whole shards and steps them one after the other, so the same
seed gives the same observations however many workers (cores) there are. (A native vector env
draws all its envs' starts from one generator, so splitting it differently would change them.)
Per step every worker gets its slice of the actions in one message and answers with its shards'
results, concatenated, in one message; the parent concatenates the workers'.
:class:`~maze_core.env.native.NativeVectorEnv` then adapts the whole as usual. This module stays
light (no torch), since every worker imports it.
"""

from __future__ import annotations

import itertools
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

#: the most shards :func:`default_n_shards` splits a native vector env into
MAX_DEFAULT_SHARDS = 8


def default_n_shards(n_envs: int) -> int:
    """The shards of ``n_envs`` envs when none are asked for: one per env up to
    :data:`MAX_DEFAULT_SHARDS` (at most that many workers step in parallel; few large shards keep
    the per-call cost of the native env low)."""
    return min(n_envs, MAX_DEFAULT_SHARDS)


def shard_seeds(seed, shards: list[range]) -> list:
    """The reset seed of each shard: ``seed`` plus the shard's first env index for an int, the
    shard's part of a list of per-env seeds, None for None."""
    if seed is None:
        return [None] * len(shards)
    if isinstance(seed, (int, np.integer)):
        return [int(seed) + shard.start for shard in shards]
    seed = list(seed)
    return [seed[shard.start : shard.stop] for shard in shards]


class WorkerVectorEnv(gymnasium.vector.VectorEnv):
    """``n_envs`` envs of a vector env factory ``make(n) -> VectorEnv``, in ``n_workers`` processes.

    The envs form ``n_shards`` native vector envs (None: :func:`default_n_shards`; at most
    ``n_envs``), spread over ``min(n_workers, n_shards)`` workers; results depend on the shards,
    not on the workers (see the module's description).

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
        n_shards: int | None = None,
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
        if n_shards is None:
            n_shards = default_n_shards(n_envs)
        elif not isinstance(n_shards, int) or isinstance(n_shards, bool) or not 1 <= n_shards <= n_envs:
            raise ConfigurationError(
                f"n_shards={n_shards!r} is invalid: it must be an integer in 1..{n_envs}"
            )
        self.num_envs = n_envs
        #: the env indices of each shard (one native vector env with its own seed)
        self.shards = [range(group[0], group[-1] + 1) for group in split_evenly(n_envs, n_shards)]
        hosted = split_evenly(n_shards, min(n_workers or 1, n_shards))
        self._worker_shards = [[self.shards[index] for index in indices] for indices in hosted]
        self._groups = [list(range(shards[0].start, shards[-1].stop)) for shards in self._worker_shards]
        self._slices = [slice(group[0], group[-1] + 1) for group in self._groups]
        context = multiprocessing.get_context(start_method or default_start_method())
        self.processes: list = []
        self._connections: list = []
        self._finalizer = weakref.finalize(self, shutdown_workers, self.processes, self._connections)
        for index, shards in enumerate(self._worker_shards):
            connection, worker_connection = context.Pipe()
            process = context.Process(
                target=_worker_main,
                args=(worker_connection, [len(shard) for shard in shards], payload),
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

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    def reset(self, *, seed=None, options=None):
        """Reset every shard: an int ``seed`` seeds the shard of envs ``i..j`` with ``seed + i``."""
        for index, shards in enumerate(self._worker_shards):
            self._send(index, ("reset", (shard_seeds(seed, shards), options)))
        results = self._receive_all("reset", self._step_timeout_s)
        return _combine_resets(results, self._groups)

    def step(self, actions):
        for index, part in enumerate(self._slices):
            self._send(index, ("step", _rows(actions, part)))
        return _combine_steps(self._receive_all("step", self._step_timeout_s), self._groups)

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


def _combine_resets(results, groups) -> tuple:
    """The ``reset`` results of consecutive groups of envs as one."""
    if len(results) == 1:
        return results[0]
    observations, infos = zip(*results, strict=True)
    return _concatenate(observations), _concatenate_infos(infos, groups)


def _combine_steps(results, groups) -> tuple:
    """The ``step`` results of consecutive groups of envs as one."""
    if len(results) == 1:
        return results[0]
    observations, rewards, terminated, truncated, infos = zip(*results, strict=True)
    return (
        _concatenate(observations),
        np.concatenate(rewards),
        np.concatenate(terminated),
        np.concatenate(truncated),
        _concatenate_infos(infos, groups),
    )


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


def _worker_main(connection, shard_sizes: list[int], payload: bytes) -> None:
    leave_interrupts_to_the_parent()
    _limit_torch_threads()
    envs = []
    try:
        make = _load_factory(payload)
        for size in shard_sizes:
            envs.append(make(size))
            if not isinstance(envs[-1], gymnasium.vector.VectorEnv) or envs[-1].num_envs != size:
                raise ConfigurationError(
                    f"the vector env factory returned {envs[-1]!r}, not a gymnasium VectorEnv of {size} envs"
                )
        env = envs[0]
        connection.send((env.single_observation_space, env.single_action_space, dict(env.metadata)))
        starts = [0, *itertools.accumulate(shard_sizes)]
        groups = [range(start, stop) for start, stop in zip(starts[:-1], starts[1:], strict=True)]
        slices = [slice(start, stop) for start, stop in zip(starts[:-1], starts[1:], strict=True)]
        while True:
            try:
                command, argument = connection.recv()
            except EOFError:
                return
            if command == "step":
                results = [env.step(_rows(argument, part)) for env, part in zip(envs, slices, strict=True)]
                connection.send(_combine_steps(results, groups))
            elif command == "reset":
                seeds, options = argument
                results = [
                    env.reset(seed=seed, options=options) for env, seed in zip(envs, seeds, strict=True)
                ]
                connection.send(_combine_resets(results, groups))
            elif command == "close":
                connection.send(None)
                return
    except BaseException:  # noqa: BLE001 - everything goes back to the parent
        try:
            connection.send(_RemoteError(traceback.format_exc()))
        except Exception:  # noqa: BLE001 - the parent may be gone
            pass
    finally:
        for env in envs:
            env.close()
        connection.close()

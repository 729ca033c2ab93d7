"""What one sub-env of a vector env does per step, in-process or in a worker process.

:class:`~maze_core.env.vector.SequentialVectorEnv` calls :func:`step_env` / :func:`reset_env`
directly; :class:`~maze_core.env.vector.SubprocVectorEnv` runs :func:`worker_main` in each worker
process, which calls the same functions and sends their results back, so both vector envs see the
same per-env records. This module stays light (no torch) because every worker imports it.
"""

from __future__ import annotations

import math
import mmap
import os
import signal
import sys
import tempfile
import traceback
import warnings
from typing import Any, NamedTuple

import cloudpickle
import gymnasium
import numpy as np

from maze_core.env.gym_env import GymMazeEnv
from maze_core.env.outputs import EnvOutputError
from maze_core.env.structured_env import StructuredEnv, is_single_actor
from maze_core.errors import ConfigurationError

# What one env reports per vector step, as a plain tuple (a NamedTuple costs several times more to
# create, and this is built once per env per step):
#   (observation, reward, terminated, truncated, info,
#    metrics         -- (name, value) pairs the env recorded in this step,
#    episode_length  -- env time at the end of the episode that ended in this step, else -1,
#    env_time        -- env time after the step (and after the auto-reset),
#    actor_id        -- the next actor, None when the vector env does not track actors,
#    actor_done)     -- whether the actor that stepped is done (False when not tracked)
StepRecord = tuple


class ResetRecord(NamedTuple):
    """One env's part of a vector reset."""

    observation: dict
    info: dict
    env_time: int
    actor_id: Any


class RemoteError(NamedTuple):
    """An exception in a worker: what it was doing, the formatted traceback, the env's index and
    the exception in one line (:func:`describe_error`)."""

    during: str
    traceback: str
    index: int = -1
    detail: str = ""


#: what a worker sends instead of an observation it wrote into shared memory (unlike None, which an
#: env may return by mistake, no env returns it, and it unpickles as itself)
IN_SHARED_MEMORY = Ellipsis


def describe_error(error: BaseException) -> str:
    """An env's exception in one line, as an EnvWorkerError quotes it after "env i failed in step: "."""
    if isinstance(error, EnvOutputError):
        return error.detail  # what the env returned, in a sentence of its own
    return f"{type(error).__name__}: {error}"


def make_env(factory, index: int) -> StructuredEnv:
    """Call an env factory; a gymnasium env it returns gets wrapped in GymMazeEnv."""
    env = factory()
    if isinstance(env, StructuredEnv):
        return env
    if isinstance(env, gymnasium.Env):
        return GymMazeEnv(env)
    raise ConfigurationError(
        f"env factory {index} returned {type(env).__name__}, not a Maze env or gymnasium env; "
        "an env factory must be a function that creates a new MazeEnv (or gymnasium.Env)."
    )


def step_env(env: StructuredEnv, action: dict, track_actors: bool) -> StepRecord:
    """Step one env and return its ``StepRecord``; if its episode ends, reset it.

    The info of a reset env is its reset info plus ``final_observation`` and ``final_info`` (the
    finished episode's last observation and step info); with ``track_actors`` also
    ``final_actor_id`` (whose actor the final observation is for) and ``final_completed_env_step``
    (false for an episode that ended inside an env step: its bootstrap is not discounted).
    """
    observation, reward, terminated, truncated, info = env.step(action)
    metrics = env.pop_metrics()
    actor_done = env.is_actor_done() if track_actors else False
    episode_length = -1
    if terminated or truncated:
        episode_length = env.get_env_time()
        final = {"final_observation": observation, "final_info": info}
        if track_actors:
            completed = getattr(env, "completed_env_step", None)  # MazeEnv's; others: assume so
            final.update(
                final_actor_id=env.actor_id(), final_completed_env_step=completed() if completed else True
            )
        observation, info = env.reset()
        info = {**info, **final}
    actor_id = env.actor_id() if track_actors else None
    return (
        observation,
        reward,
        terminated,
        truncated,
        info,
        metrics,
        episode_length,
        env.get_env_time(),
        actor_id,
        actor_done,
    )


def reset_env(env: StructuredEnv, seed: int | None, options: dict | None, track_actors: bool) -> ResetRecord:
    observation, info = env.reset(seed=seed, options=options)
    return ResetRecord(observation, info, env.get_env_time(), env.actor_id() if track_actors else None)


def call_env(env: StructuredEnv, name: str, args: tuple, kwargs: dict) -> Any:
    """``env.name(*args, **kwargs)`` if it is callable, else the attribute's value."""
    attribute = getattr(env, name)
    return attribute(*args, **kwargs) if callable(attribute) else attribute


# --- shared memory for observations and actions ---------------------------------------------------

#: (kind, key, shape, dtype string, byte offset) of one array in a SharedArrays block
ArraySpec = tuple[str, str, tuple[int, ...], str, int]
_ALIGNMENT = 64


def shared_layout(observation_space, action_space, n_envs: int) -> tuple[list[ArraySpec], int] | None:
    """Where each observation and action array of ``n_envs`` envs lies in a shared block, and the
    block's size; None when a space has no fixed shape and plain dtype (then nothing is shared)."""
    layout, offset = [], 0
    for kind, space in (("observation", observation_space), ("action", action_space)):
        for key, sub_space in space.spaces.items():
            if sub_space.shape is None or sub_space.dtype is None or np.dtype(sub_space.dtype).hasobject:
                return None
            dtype = np.dtype(sub_space.dtype)
            shape = (n_envs, *(int(d) for d in sub_space.shape))
            layout.append((kind, key, shape, dtype.str, offset))
            offset += -(-math.prod(shape) * dtype.itemsize // _ALIGNMENT) * _ALIGNMENT
    return layout, max(offset, _ALIGNMENT)


class SharedArrays:
    """The observations and actions of all envs of a SubprocVectorEnv, in one block of shared memory.

    The parent creates the block (:meth:`create`, a file in ``/dev/shm`` where there is one); each
    worker maps it once and the parent then removes the file, so the memory goes away with the last
    process using it, even after a crash. Per step the parent writes all actions with one copy per
    action head and each worker writes its observation into its row: no arrays are pickled.
    """

    def __init__(self, path: str, layout: list[ArraySpec], size: int):
        fd = os.open(path, os.O_RDWR)
        try:
            self._mmap = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.observations: dict[str, np.ndarray] = {}
        self.actions: dict[str, np.ndarray] = {}
        for kind, key, shape, dtype, offset in layout:
            array = np.ndarray(shape, dtype=np.dtype(dtype), buffer=self._mmap, offset=offset)
            (self.observations if kind == "observation" else self.actions)[key] = array

    @classmethod
    def create(cls, layout: list[ArraySpec], size: int) -> tuple[SharedArrays, str]:
        """A new zeroed block and the path of its file (which the caller removes once workers mapped it)."""
        directory = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="maze-vector-env-", dir=directory)
        try:
            try:
                # reserve the memory now: writing to a sparse file on a full tmpfs would crash (SIGBUS)
                os.posix_fallocate(fd, 0, size)
            except AttributeError:  # no posix_fallocate (macOS): a plain file of the right size
                os.ftruncate(fd, size)
            os.close(fd)
            return cls(path, layout, size), path
        except BaseException:
            os.unlink(path)
            raise

    def rows(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Views of env ``index``'s observation and action rows (``[index, ...]``: a scalar row is a
        0-d view, not a copy of the current value)."""
        return (
            {key: array[index, ...] for key, array in self.observations.items()},
            {key: array[index, ...] for key, array in self.actions.items()},
        )

    def write_actions(self, actions: dict[str, np.ndarray]) -> bool:
        """Copy the stacked actions in, if each is an array of exactly the shape and dtype of the
        action space (stacked); returns False (and writes nothing) otherwise."""
        buffers = self.actions
        if actions.keys() != buffers.keys():
            return False
        for key, buffer in buffers.items():
            value = actions[key]
            if type(value) is not np.ndarray or value.shape != buffer.shape or value.dtype != buffer.dtype:
                return False
        for key, buffer in buffers.items():
            buffer[...] = actions[key]
        return True

    def close(self) -> None:
        self.observations, self.actions = {}, {}
        try:
            self._mmap.close()
        except BufferError:  # a view is still referenced somewhere: the memory goes with it
            pass


def _action_from_rows(rows: dict[str, np.ndarray]) -> dict[str, Any]:
    """An env's action read from its shared rows, as the per-env split of a stacked action would give
    it: a numpy scalar for a scalar head, else an array of its own (the row is overwritten next step)."""
    return {key: row[()] if row.ndim == 0 else row.copy() for key, row in rows.items()}


def _put_observation(rows: dict[str, np.ndarray], observation) -> bool:
    """Write an observation into the env's shared rows if it matches them exactly (keys, shapes and
    dtypes); otherwise leave it to be pickled, so that the parent sees exactly what the env returned."""
    if not isinstance(observation, dict) or observation.keys() != rows.keys():
        return False
    for key, row in rows.items():
        value = observation[key]
        if type(value) is not np.ndarray or value.shape != row.shape or value.dtype != row.dtype:
            return False
    for key, row in rows.items():
        row[...] = observation[key]
    return True


def leave_interrupts_to_the_parent() -> None:
    """Ignore Ctrl-C and SIGTERM in an env worker. Both reach the whole process group (a terminal's
    Ctrl-C; a supervisor's SIGTERM to every process of a job); the parent handles them like
    Ctrl-C (checkpoint kept, exit status 130 or 143) and closes its workers, which must live until
    then. A worker whose parent is gone ends when its pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _limit_torch_threads() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _load_factory(factory_bytes: bytes):
    try:
        return cloudpickle.loads(factory_bytes)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{exc}: the env factory refers to a module that this worker process cannot import. "
            "Define the factory and env class in an importable module or in your main script, or "
            "have cloudpickle ship the module by value: cloudpickle.register_pickle_by_value(module)."
        ) from exc


def _apply_warning_filters(filters: list[tuple]) -> None:
    """Replace this process's warning filters with ``filters`` (the parent's, see vector.py)."""
    warnings.resetwarnings()
    for action, message, category, module, lineno in filters:
        warnings.filterwarnings(action, message or "", category, module or "", lineno, append=True)


def worker_main(conn, indices: list[int], factory_payloads: list[bytes], warning_filters=None) -> None:
    """Build the envs ``indices`` from cloudpickled factories and serve commands from the parent over
    ``conn``; each command applies to all of this worker's envs, in order. ``warning_filters``: the
    parent's warning filters, applied here too.

    Replies: the spaces of every env after construction, then one list per command (a record per
    env); on any exception a :class:`RemoteError` naming the env, after which the worker exits (the
    parent then shuts all workers down).
    """
    leave_interrupts_to_the_parent()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")  # envs in a worker run one at a time: no thread pools
    _limit_torch_threads()
    if warning_filters is not None:
        _apply_warning_filters(warning_filters)

    during, current = "the env factory", indices[0]
    envs: list[StructuredEnv] = []
    shared = None
    observation_rows = action_rows = None  # per env: its rows in shared memory, once attached
    try:
        for current, payload in zip(indices, factory_payloads, strict=True):
            envs.append(make_env(_load_factory(payload), current))
        _limit_torch_threads()
        conn.send(
            [(env.observation_spaces_dict, env.action_spaces_dict, env.agent_counts_dict) for env in envs]
        )
        track_actors = not is_single_actor(envs[0].agent_counts_dict)
        while True:
            try:
                command, payload = conn.recv()
            except EOFError:
                return  # the parent is gone
            during = command
            replies = []
            if command == "step":  # payload None: the actions are in shared memory
                for position, env in enumerate(envs):
                    current = indices[position]
                    action = (
                        _action_from_rows(action_rows[position]) if payload is None else payload[position]
                    )
                    record = step_env(env, action, track_actors)
                    if observation_rows is not None and _put_observation(
                        observation_rows[position], record[0]
                    ):
                        record = (IN_SHARED_MEMORY, *record[1:])
                    replies.append(record)
            elif command == "reset":
                seeds, options = payload
                for position, env in enumerate(envs):
                    current = indices[position]
                    record = reset_env(env, seeds[position], options, track_actors)
                    if observation_rows is not None and _put_observation(
                        observation_rows[position], record.observation
                    ):
                        record = record._replace(observation=IN_SHARED_MEMORY)
                    replies.append(record)
            elif command == "attach":
                shared = SharedArrays(*payload)
                observation_rows, action_rows = zip(*(shared.rows(index) for index in indices), strict=True)
            elif command == "seed":
                for position, env in enumerate(envs):
                    current = indices[position]
                    env.seed(payload[position])
            elif command == "call":
                for position, env in enumerate(envs):
                    current = indices[position]
                    replies.append(call_env(env, *payload))
            elif command == "close":
                for position, env in enumerate(envs):
                    current = indices[position]
                    env.close()
                conn.send(replies)
                return
            else:  # pragma: no cover - a bug in the parent
                raise ValueError(f"unknown command {command!r}")
            conn.send(replies)
    except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
        try:
            conn.send(RemoteError(during, traceback.format_exc(), current, describe_error(error)))
        except Exception:  # noqa: BLE001 - the parent may be gone already
            pass
    finally:
        observation_rows = action_rows = None  # views into the shared block: release them first
        if shared is not None:
            shared.close()
        conn.close()

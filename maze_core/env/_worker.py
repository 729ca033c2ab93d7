"""What one sub-env of a vector env does per step, in-process or in a worker process.

:class:`~maze_core.env.vector.SequentialVectorEnv` calls :func:`step_env` / :func:`reset_env`
directly; :class:`~maze_core.env.vector.SubprocVectorEnv` runs :func:`worker_main` in each worker
process, which calls the same functions and sends their results back, so both vector envs see the
same per-env records. This module stays light (no torch) because every worker imports it.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any, NamedTuple

import cloudpickle
import gymnasium

from maze_core.env.gym_env import GymMazeEnv
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
    """An exception in a worker: what it was doing and the formatted traceback."""

    during: str
    traceback: str


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
    finished episode's last observation and step info).
    """
    observation, reward, terminated, truncated, info = env.step(action)
    metrics = env.pop_metrics()
    actor_done = env.is_actor_done() if track_actors else False
    episode_length = -1
    if terminated or truncated:
        episode_length = env.get_env_time()
        final_observation, final_info = observation, info
        observation, info = env.reset()
        info = {**info, "final_observation": final_observation, "final_info": final_info}
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


def worker_main(conn, index: int, factory_bytes: bytes) -> None:
    """Build one env from a cloudpickled factory and serve commands from the parent over ``conn``.

    Replies: the spaces after construction, one record per command; on any exception a
    :class:`RemoteError`, after which the worker exits (the parent then shuts all workers down).
    """
    # Ctrl-C reaches the whole process group: the parent handles it and closes the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")  # one env per process: no thread pools per worker
    _limit_torch_threads()

    during = "the env factory"
    try:
        env = make_env(_load_factory(factory_bytes), index)
        _limit_torch_threads()
        agent_counts_dict = env.agent_counts_dict
        conn.send((env.observation_spaces_dict, env.action_spaces_dict, agent_counts_dict))
        track_actors = not is_single_actor(agent_counts_dict)
        while True:
            try:
                command, payload = conn.recv()
            except EOFError:
                return  # the parent is gone
            during = command
            if command == "step":
                conn.send(step_env(env, payload, track_actors))
            elif command == "reset":
                conn.send(reset_env(env, *payload, track_actors))
            elif command == "seed":
                env.seed(payload)
                conn.send(None)
            elif command == "call":
                conn.send(call_env(env, *payload))
            elif command == "close":
                env.close()
                conn.send(None)
                return
            else:  # pragma: no cover - a bug in the parent
                raise ValueError(f"unknown command {command!r}")
    except BaseException:  # noqa: BLE001 - everything goes back to the parent
        try:
            conn.send(RemoteError(during, traceback.format_exc()))
        except Exception:  # noqa: BLE001 - the parent may be gone already
            pass
    finally:
        conn.close()

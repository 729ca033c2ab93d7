"""Vector envs: step several envs at once, in-process or in worker processes.

Both vector envs share this behaviour (see :class:`VectorEnv`):

* observations are stacked per key, ``{key: array[n_envs, ...]}``; rewards come back as a float32
  array, ``terminated``/``truncated`` as bool arrays, infos as a list of dicts;
* an env whose episode ends is reset inside :meth:`~VectorEnv.step`: its entry of the returned
  observation is the first observation of the new episode, and its info is the reset info plus
  ``final_observation`` and ``final_info`` (the finished episode's last observation and step info,
  needed to bootstrap truncated episodes);
* epoch statistics of all sub-envs are gathered in the vector env (it is a
  :class:`~maze_core.env.log_stats.LogStatsEnv`), so sub-envs need no LogStatsWrapper;
* an env that raises, or a worker that dies, raises :class:`~maze_core.errors.EnvWorkerError`
  naming the env index and carrying the env's traceback.
"""

from __future__ import annotations

import abc
import contextlib
import multiprocessing
import os
import select
import signal
import sys
import time
import traceback
import warnings
import weakref
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle
import numpy as np
from gymnasium import spaces

from maze_core.env._worker import (
    IN_SHARED_MEMORY,
    RemoteError,
    ResetRecord,
    SharedArrays,
    StepRecord,
    call_env,
    describe_error,
    make_env,
    reset_env,
    shared_layout,
    step_env,
    worker_main,
)
from maze_core.env.faults import (
    STEP_CLOCK,
    StepTimeout,
    checked_step_timeout,
    env_error,
    output_error,
    timeout_detail,
)
from maze_core.env.gym_env import GymMazeEnv
from maze_core.env.log_stats import LogStatsEnv
from maze_core.env.names import EnvFactory, check_env_factory
from maze_core.env.outputs import EnvOutputError, numeric
from maze_core.env.structured_env import ActorID, StepKey, StructuredEnv, is_single_actor
from maze_core.errors import ConfigurationError, EnvWorkerError, MazeError
from maze_core.statistics import EpisodeRecorder

Seeds = int | Sequence[int | None] | None


class VectorEnv(LogStatsEnv, abc.ABC):
    """Common base of the vector envs: stacking, auto-reset bookkeeping, seeding and statistics.

    Subclasses only move per-env records (:class:`~maze_core.env._worker.StepRecord`) between the
    envs and this class. The spaces are those of one env (not stacked). All envs must ask for the
    same actor at the same time (structured envs are stepped in lock step).
    """

    def __init__(
        self,
        n_envs: int,
        observation_spaces_dict: dict[StepKey, spaces.Dict],
        action_spaces_dict: dict[StepKey, spaces.Dict],
        agent_counts_dict: dict[StepKey, int],
        logging_prefix: str | None = None,
    ):
        self.n_envs = n_envs
        self.logging_prefix = logging_prefix
        self.episode_recorder = EpisodeRecorder()
        self._observation_spaces_dict = observation_spaces_dict
        self._action_spaces_dict = action_spaces_dict
        self._agent_counts_dict = agent_counts_dict
        # single-actor envs (the common case) skip all per-step actor bookkeeping
        self._track_actors = not is_single_actor(agent_counts_dict)
        self._actor_id = ActorID(next(iter(action_spaces_dict)), 0)
        self._actor_dones = np.zeros(n_envs, dtype=bool)
        self._env_times = np.zeros(n_envs, dtype=np.int64)
        self._episode_returns = np.zeros(n_envs, dtype=np.float64)
        self._closed = False

    # -- what subclasses implement ---------------------------------------------------------------

    @abc.abstractmethod
    def _step_envs(self, actions: dict[str, np.ndarray]) -> list[StepRecord]:
        """Step every env with its row of ``actions`` (auto-resetting finished ones)."""

    @abc.abstractmethod
    def _reset_envs(self, seeds: list[int | None], options: dict | None) -> list[ResetRecord]:
        """Reset every env."""

    @abc.abstractmethod
    def _seed_envs(self, seeds: list[int | None]) -> None:
        """Store a seed in every env for its next reset."""

    @abc.abstractmethod
    def call(self, name: str, *args, **kwargs) -> list[Any]:
        """Call method ``name`` on every env (or read the attribute if it is not callable)."""

    @abc.abstractmethod
    def _close_envs(self) -> None:
        """Release the envs (called once)."""

    # -- the vector env interface ----------------------------------------------------------------

    def reset(
        self, seed: Seeds = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Reset all envs; an int ``seed`` seeds env ``i`` with ``seed + i``, a list one seed per env.

        Episodes in progress are abandoned and do not count in the statistics.
        """
        self._check_open()
        records = self._reset_envs(self._per_env_seeds(seed), options)
        observations, infos, env_times, actor_ids = zip(*records, strict=True)
        if self._track_actors:
            self._update_actor(actor_ids)
            self._actor_dones = np.zeros(self.n_envs, dtype=bool)
        try:
            observation = self._stack(observations)
        except EnvOutputError as error:
            raise output_error(error, "reset", self.logging_prefix) from None
        self._env_times = np.array(env_times, dtype=np.int64)
        self._episode_returns[:] = 0.0
        return observation, list(infos)

    def step(self, actions: dict[str, np.ndarray]):
        """Step all envs with ``actions`` (``{key: array[n_envs, ...]}``) for the current actor.

        Returns ``(observations, rewards[float32], terminated[bool], truncated[bool], infos)``.
        """
        self._check_open()
        records = self._step_envs(actions)
        (
            observations,
            rewards,
            terminated,
            truncated,
            infos,
            metrics,
            lengths,
            env_times,
            actor_ids,
            dones,
        ) = zip(*records, strict=True)
        try:
            rewards = numeric(rewards, "reward", np.float32, batched=True)
            observation = self._stack(observations)
        except EnvOutputError as error:
            raise output_error(error, "step", self.logging_prefix) from None
        if self._track_actors:
            self._update_actor(actor_ids)
            self._actor_dones = np.array(dones, dtype=bool)
        self._env_times = np.array(env_times, dtype=np.int64)

        recorder = self.episode_recorder
        if any(metrics):
            for env_metrics in metrics:
                for name, value in env_metrics:
                    recorder.add_metric(name, value)
        returns = self._episode_returns
        returns += rewards
        lengths = np.array(lengths)
        ended = np.flatnonzero(lengths >= 0)  # the envs whose episode ended in this step
        if len(ended):
            recorder.add_episodes(returns[ended], lengths[ended])
            returns[ended] = 0.0

        return (
            observation,
            rewards,
            np.array(terminated, dtype=bool),
            np.array(truncated, dtype=bool),
            list(infos),
        )

    def seed(self, seeds: Seeds) -> None:
        """Store seeds for the envs' next reset (an int ``s`` gives env ``i`` the seed ``s + i``)."""
        self._check_open()
        self._seed_envs(self._per_env_seeds(seeds))

    def close(self) -> None:
        """Close all envs; calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._close_envs()

    def actor_id(self) -> ActorID:
        """The actor all envs wait for."""
        return self._actor_id

    def is_actor_done(self) -> np.ndarray:
        """Per env: whether the actor that just stepped is done (``array[n_envs]`` of bool)."""
        return self._actor_dones

    def get_env_time(self) -> np.ndarray:
        """Per env: completed env steps of its current episode (``array[n_envs]`` of int64)."""
        return self._env_times

    @property
    def agent_counts_dict(self) -> dict[StepKey, int]:
        return self._agent_counts_dict

    @property
    def observation_spaces_dict(self) -> dict[StepKey, spaces.Dict]:
        return self._observation_spaces_dict

    @property
    def action_spaces_dict(self) -> dict[StepKey, spaces.Dict]:
        return self._action_spaces_dict

    @property
    def observation_space(self) -> spaces.Dict:
        """The observation space (of one env) of the current step key."""
        return self._observation_spaces_dict[self._actor_id.step_key]

    @property
    def action_space(self) -> spaces.Dict:
        """The action space (of one env) of the current step key."""
        return self._action_spaces_dict[self._actor_id.step_key]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_envs={getattr(self, 'n_envs', '?')})"

    # -- helpers ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MazeError(f"this {type(self).__name__} is closed; create a new one.")

    def _per_env_seeds(self, seed: Seeds) -> list[int | None]:
        if seed is None:
            return [None] * self.n_envs
        if isinstance(seed, (int, np.integer)):
            return [int(seed) + index for index in range(self.n_envs)]
        seeds = list(seed)
        if len(seeds) != self.n_envs:
            raise ConfigurationError(
                f"got {len(seeds)} seeds for {self.n_envs} envs; pass one seed per env, or an int "
                "(env i then gets seed + i)."
            )
        return seeds

    def _update_actor(self, actor_ids: Sequence[ActorID]) -> None:
        first = actor_ids[0]
        for index, actor_id in enumerate(actor_ids):
            if actor_id != first:
                raise MazeError(
                    f"the envs of this vector env wait for different actors (env 0: {first}, env {index}: "
                    f"{actor_id}). Vector envs step all envs in lock step, so every env must ask for "
                    "the same actor (step key and agent) at the same time."
                )
        self._actor_id = ActorID(*first)

    def _split_actions(self, actions: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """``{key: array[n_envs, ...]}`` -> one action dict per env (iterating in C, not indexing)."""
        for key, value in actions.items():
            if len(value) != self.n_envs:
                raise ConfigurationError(
                    f"actions[{key!r}] has {len(value)} rows for {self.n_envs} envs; pass one row per env."
                )
        if len(actions) == 1:
            ((key, value),) = actions.items()
            return [{key: row} for row in value]
        keys = tuple(actions)
        return [dict(zip(keys, rows, strict=True)) for rows in zip(*actions.values(), strict=True)]

    def _stack(self, observations: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        try:
            return {
                key: stacked([observation[key] for observation in observations], key)
                for key in observations[0]
            }
        except TypeError:  # an observation that is not a dict
            for index, observation in enumerate(observations):
                if not isinstance(observation, Mapping):
                    raise EnvOutputError("observation", observation, index) from None
            raise


def stacked(values: list, key: str) -> np.ndarray:
    """The envs' observations under ``key`` as one array (``np.array`` on equally shaped arrays is
    the fastest stacking numpy offers), if they are numbers (else an EnvOutputError naming the env);
    envs that disagree on the shape are a clear error naming them, where numpy's own message names
    neither the key nor the envs."""
    try:
        return numeric(values, f"observation[{key!r}]", batched=True)
    except ValueError:
        shapes = [np.shape(value) for value in values]
        other = next((index for index, shape in enumerate(shapes) if shape != shapes[0]), None)
        if other is None:
            raise
        raise EnvWorkerError(
            f"the envs returned observation {key!r} in different shapes: env 0 {shapes[0]}, env {other} "
            f"{shapes[other]}; every env of a vector env must return the shape its observation space says"
        ) from None


def _check_factories(env_factories) -> list[EnvFactory]:
    if callable(env_factories) or isinstance(env_factories, StructuredEnv):
        raise ConfigurationError(
            "env_factories must be a list of functions that each create a new env, e.g. "
            "[make_env] * 4, got a single " + type(env_factories).__name__ + "."
        )
    factories = list(env_factories)
    if not factories:
        raise ConfigurationError("env_factories is empty; a vector env needs at least one env factory.")
    return [check_env_factory(factory, f"env_factories[{index}]") for index, factory in enumerate(factories)]


def _check_same_spaces(index: int, description: tuple, reference: tuple) -> None:
    if description != reference:
        raise ConfigurationError(
            f"env {index} has other spaces or agent counts than env 0 (observation spaces, action "
            f"spaces, agent counts):\n  env 0: {reference}\n  env {index}: {description}\n"
            "All envs of a vector env must be alike."
        )


def _spaces_of(env: StructuredEnv) -> tuple:
    return env.observation_spaces_dict, env.action_spaces_dict, env.agent_counts_dict


class SequentialVectorEnv(VectorEnv):
    """Steps its envs one after the other in this process (no copying, no processes: the fastest
    choice for cheap envs, and the easiest to debug).

    ``step_timeout_s`` bounds one step or reset of all its envs together (as a SubprocVectorEnv
    waits for all its workers), enforced with SIGALRM (see ``maze_core.env.faults``); None: no
    limit.
    """

    def __init__(
        self,
        env_factories: Sequence[EnvFactory],
        logging_prefix: str | None = None,
        step_timeout_s: float | None = None,
    ):
        factories = _check_factories(env_factories)
        self._step_timeout_s = checked_step_timeout(step_timeout_s)
        self.envs: list[StructuredEnv] = []
        seen = set()  # ids of the envs so far: a set, as 100000 envs compared pairwise take minutes
        try:
            for index, factory in enumerate(factories):
                try:
                    env = make_env(factory, index)
                except MazeError:
                    raise
                except Exception as exc:
                    raise env_error(
                        index,
                        "the env factory",
                        describe_error(exc),
                        traceback.format_exc(),
                        logging_prefix,
                    ) from exc
                if id(env) in seen:
                    raise ConfigurationError(
                        f"env factory {index} returned an env that an earlier factory returned already; "
                        "pass functions that each create a new env (not `lambda: env`)."
                    )
                seen.add(id(env))
                self.envs.append(env)
            reference = _spaces_of(self.envs[0])
            for index, env in enumerate(self.envs[1:], start=1):
                _check_same_spaces(index, _spaces_of(env), reference)
        except BaseException:
            for env in self.envs:
                env.close()
            raise
        super().__init__(len(self.envs), *reference, logging_prefix=logging_prefix)
        self._gym_batch = _GymBatch.of(self.envs)

    def step(self, actions: dict[str, np.ndarray]):
        if self._gym_batch is None:
            return super().step(actions)
        self._check_open()
        return self._gym_batch.step(self, actions)

    def _step_envs(self, actions):
        track_actors = self._track_actors
        return self._each_env(
            "step",
            lambda index, env: step_env(
                env, {key: value[index] for key, value in actions.items()}, track_actors
            ),
        )

    def _reset_envs(self, seeds, options):
        return self._each_env(
            "reset", lambda index, env: reset_env(env, seeds[index], options, self._track_actors)
        )

    def _each_env(self, during: str, call) -> list:
        """``call(index, env)`` for every env, within one step timeout for all of them (as a step of a
        SubprocVectorEnv waits for all its workers); an error or the timeout names the env."""
        records = []
        STEP_CLOCK.start(self._step_timeout_s)
        try:
            for index, env in enumerate(self.envs):
                try:
                    records.append(call(index, env))
                except Exception as exc:
                    raise env_error(
                        index, during, describe_error(exc), traceback.format_exc(), self.logging_prefix
                    ) from exc
        except StepTimeout:
            raise self._timeout(len(records), during) from None
        finally:
            STEP_CLOCK.stop()
        return records

    def _timeout(self, index: int, during: str) -> EnvWorkerError:
        return env_error(index, during, timeout_detail(self._step_timeout_s), None, self.logging_prefix)

    def _seed_envs(self, seeds):
        for env, seed in zip(self.envs, seeds, strict=True):
            env.seed(seed)

    def call(self, name: str, *args, **kwargs) -> list[Any]:
        return [call_env(env, name, args, kwargs) for env in self.envs]

    def _close_envs(self) -> None:
        STEP_CLOCK.release()
        for env in self.envs:
            env.close()


class _GymBatch:
    """The per-env path for plain :class:`~maze_core.env.gym_env.GymMazeEnv` envs: steps their
    gymnasium envs directly and does GymMazeEnv's conversions, the episode statistics and the env
    times once for all envs with numpy, leaving one gymnasium ``step`` call per env in Python."""

    def __init__(self, envs: list[GymMazeEnv]):
        self.envs = envs
        self.steps = [env.env.step for env in envs]
        self.conversion = envs[0]._conversion

    @classmethod
    def of(cls, envs: list[StructuredEnv]) -> _GymBatch | None:
        """A batch if every env is a plain GymMazeEnv of a non-Dict gymnasium env, else None."""
        if not all(type(env) is GymMazeEnv for env in envs):
            return None
        conversion = envs[0]._conversion
        if not (conversion._wrap_observation and conversion._wrap_action):
            return None
        return cls(envs)

    def step(self, vector_env: VectorEnv, actions: dict[str, np.ndarray]):
        """What :meth:`VectorEnv.step` returns, for ``vector_env`` (whose statistics it updates)."""
        action = self.conversion.gym_action(actions, batched=True)
        if len(action) != vector_env.n_envs:
            raise ConfigurationError(
                f"actions['action'] has {len(action)} rows for {vector_env.n_envs} envs; pass one row per "
                "env."
            )
        results = []
        append = results.append
        STEP_CLOCK.start(vector_env._step_timeout_s)
        try:
            try:
                # rows of the action array: numpy scalars for a Discrete space, as GymMazeEnv hands them
                for step, value in zip(self.steps, action, strict=True):
                    append(step(value))
            except Exception as exc:
                index, prefix = len(results), vector_env.logging_prefix
                raise env_error(index, "step", describe_error(exc), traceback.format_exc(), prefix) from exc
            return self._finish(vector_env, results)
        except StepTimeout:
            raise vector_env._timeout(min(len(results), len(self.steps) - 1), "step") from None
        except EnvOutputError as error:
            raise output_error(error, "step", vector_env.logging_prefix) from None
        finally:
            STEP_CLOCK.stop()

    def _finish(self, vector_env: VectorEnv, results: list[tuple]):
        """The step's results as arrays, the statistics updated and finished episodes reset."""
        columns = zip(*results, strict=True)
        observations, rewards, terminated, truncated, infos = (list(column) for column in columns)
        rewards = numeric(rewards, "reward", np.float32, batched=True)
        terminated = np.array(terminated, dtype=bool)
        truncated = np.array(truncated, dtype=bool)
        times = vector_env._env_times
        times += 1
        returns = vector_env._episode_returns
        returns += rewards
        done = terminated | truncated
        if done.any():
            ended = np.flatnonzero(done)
            vector_env.episode_recorder.add_episodes(returns[ended], times[ended])
            returns[ended] = 0.0
            times[ended] = 0
            for index in ended.tolist():
                infos[index] = self._reset(vector_env, index, observations, infos[index])
        for env, env_time in zip(self.envs, times.tolist(), strict=True):
            env._env_time = env_time  # what the env's own get_env_time() reports
        observation = self.conversion.observation(stacked(observations, "observation"), batched=True)
        return observation, rewards, terminated, truncated, infos

    def _reset(self, vector_env: VectorEnv, index: int, observations: list, final_info: dict) -> dict:
        """Reset env ``index`` (through GymMazeEnv, for its seeding); returns its info."""
        final_observation = observations[index]
        try:
            observation, info = self.envs[index].reset()
        except StepTimeout:
            raise vector_env._timeout(index, "reset") from None
        except Exception as exc:
            raise env_error(
                index, "reset", describe_error(exc), traceback.format_exc(), vector_env.logging_prefix
            ) from exc
        observations[index] = observation["observation"]
        return {
            **info,
            "final_observation": self.conversion.observation(final_observation),
            "final_info": final_info,
        }


@contextlib.contextmanager
def _main_module_not_reimported():
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


def _warning_filters() -> list[tuple]:
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
        factories = _check_factories(env_factories)
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
        self._groups = _split_evenly(len(payloads), min(n_workers or len(payloads), len(payloads)))
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._connections: list[Connection] = []
        self._shared: SharedArrays | None = None
        self._closed = False
        # shuts the workers down on close(), on garbage collection and at interpreter exit
        self._finalizer = weakref.finalize(self, _shutdown_workers, self._processes, self._connections)
        for worker, group in enumerate(self._groups):
            connection, worker_connection = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(worker_connection, group, [payloads[index] for index in group], _warning_filters()),
                name=f"maze-env-worker-{worker}",
                daemon=True,
            )
            with _main_module_not_reimported():
                process.start()
            worker_connection.close()  # so that a dead worker shows up as EOF here
            self._processes.append(process)
            self._connections.append(connection)

        descriptions = self._receive_all_envs("the env factory")
        try:
            for index, description in enumerate(descriptions[1:], start=1):
                _check_same_spaces(index, description, descriptions[0])
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
            detail = f"the worker process{whose} died ({_describe_exit(process.exitcode)})"
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


def _split_evenly(n_envs: int, n_workers: int) -> list[list[int]]:
    """Env indices ``0..n_envs-1`` in ``n_workers`` contiguous groups whose sizes differ by at most one."""
    size, extra = divmod(n_envs, n_workers)
    groups, start = [], 0
    for worker in range(n_workers):
        end = start + size + (worker < extra)
        groups.append(list(range(start, end)))
        start = end
    return groups


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "it stopped responding"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _shutdown_workers(processes: list, connections: list[Connection], grace_period: float = 2.0) -> None:
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

"""Vector envs: step several envs at once, in this process (:class:`SequentialVectorEnv`, here) or
in worker processes (:class:`~maze_core.env.subproc.SubprocVectorEnv`). What every vector env does
(stacking, auto-reset, statistics, errors naming the env) is :class:`~maze_core.env.vector_base.VectorEnv`'s.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from maze_core.env._worker import (
    call_env,
    describe_error,
    make_env,
    reset_env,
    step_env,
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
from maze_core.env.names import EnvFactory
from maze_core.env.outputs import EnvOutputError, numeric
from maze_core.env.structured_env import StructuredEnv
from maze_core.env.vector_base import VectorEnv, check_factories, check_same_spaces, spaces_of
from maze_core.errors import ConfigurationError, EnvWorkerError, MazeError


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
        factories = check_factories(env_factories)
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
            reference = spaces_of(self.envs[0])
            for index, env in enumerate(self.envs[1:], start=1):
                check_same_spaces(index, spaces_of(env), reference)
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


# where these names were before the vector envs were split into modules: they stay importable here
from maze_core.env.processes import default_start_method  # noqa: E402
from maze_core.env.subproc import SubprocVectorEnv  # noqa: E402
from maze_core.env.vector_base import Seeds, stacked  # noqa: E402

__all__ = ["Seeds", "SequentialVectorEnv", "SubprocVectorEnv", "VectorEnv", "default_start_method", "stacked"]

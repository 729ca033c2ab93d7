"""Native vector envs: any gymnasium ``VectorEnv`` stepped as one batch, as a Maze vector env.

Engines that step many envs at once (gymnasium's numpy-vectorized classic-control envs reached
through ``gymnasium.make_vec``, EnvPool, PufferLib, GPU simulators, a user's own batched env) hand
over a batch of envs behind the gymnasium ``VectorEnv`` interface. :class:`NativeVectorEnv`
presents such a batch with the interface of Maze's own vector envs (stacked dict observations,
per-env infos with ``final_observation``, epoch statistics, env times), so the rollout collector
and the evaluator consume it unchanged; all per-step work is numpy over the envs, none per env.

The two gymnasium autoreset modes differ in what a step after an episode end means:

* **same-step** (gymnasium's ``SyncVectorEnv`` by default, EnvPool): the envs are reset inside the
  step that ends an episode, exactly like Maze's own vector envs; the finished episode's last
  observation comes from the info (``final_obs``) and is passed on as ``final_observation``;
* **next-step** (gymnasium's vector entry points such as ``CartPoleVectorEnv``): the step that
  ends an episode returns its last observation; the *next* step ignores the action, resets the env
  and returns the first observation with reward 0. That transition is not a transition of the
  MDP: consumers find these steps with :meth:`NativeVectorEnv.reset_steps` (the rollout collector
  marks them invalid, the evaluator does not count them), and a truncated episode needs no
  ``final_observation``: the next observation in the rollout is the final one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode

from maze_core.env.faults import (
    STEP_CLOCK,
    StepTimeout,
    checked_step_timeout,
    env_error,
    output_error,
    timeout_detail,
)
from maze_core.env.gym_env import GymConversion, GymIdFactory
from maze_core.env.log_stats import LogStatsEnv
from maze_core.env.outputs import EnvOutputError, numeric
from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError, MazeError
from maze_core.statistics import EpisodeRecorder

SAME_STEP = "same_step"
NEXT_STEP = "next_step"
_MODES = {AutoresetMode.SAME_STEP: SAME_STEP, AutoresetMode.NEXT_STEP: NEXT_STEP}


class NativeVectorEnv(LogStatsEnv):
    """A gymnasium ``VectorEnv`` as a Maze vector env (one step key, one agent).

    Observations and actions are converted as :class:`~maze_core.env.gym_env.GymMazeEnv` converts
    them (``{"observation": float32 array[n_envs, ...]}``, ``{"action": array[n_envs, ...]}``),
    with one numpy call per key for all envs. Episode returns, lengths and env times are kept in
    arrays over the envs. :attr:`autoreset_mode` (``"same_step"`` or ``"next_step"``) is read from
    the vector env's ``metadata["autoreset_mode"]`` (gymnasium's default when absent: next-step);
    a vector env with autoreset disabled is refused.

    :param vector_env: the gymnasium vector env; this object owns it (``close()`` closes it).
    :param logging_prefix: statistics of :meth:`write_epoch_stats` go to the log hub under it.
    :param step_timeout_s: seconds one ``step`` or ``reset`` of the whole batch may take in this
        process (SIGALRM, see :class:`~maze_core.env.faults._StepClock`); None: no limit.
    """

    def __init__(
        self,
        vector_env: gymnasium.vector.VectorEnv,
        logging_prefix: str | None = None,
        step_timeout_s: float | None = None,
    ):
        self._step_timeout_s = checked_step_timeout(step_timeout_s)
        if not isinstance(vector_env, gymnasium.vector.VectorEnv):
            raise ConfigurationError(
                f"NativeVectorEnv needs a gymnasium.vector.VectorEnv, got {type(vector_env).__name__}; "
                "for single envs use the per-env vector envs (SequentialVectorEnv, SubprocVectorEnv)."
            )
        mode = (getattr(vector_env, "metadata", None) or {}).get("autoreset_mode", AutoresetMode.NEXT_STEP)
        mode = AutoresetMode(mode) if isinstance(mode, str) else mode
        if mode not in _MODES:
            raise ConfigurationError(
                f"{type(vector_env).__name__} has autoreset mode {mode}; Maze steps envs continuously "
                "and needs autoreset: create the vector env with autoreset_mode=AutoresetMode.SAME_STEP "
                "or NEXT_STEP."
            )
        self.env = vector_env
        self.autoreset_mode = _MODES[mode]
        self.n_envs = int(vector_env.num_envs)
        self.logging_prefix = logging_prefix
        self.episode_recorder = EpisodeRecorder()
        self._conversion = GymConversion(
            vector_env.single_observation_space, vector_env.single_action_space, "NativeVectorEnv"
        )
        self._actor_id = ActorID(0, 0)
        self._env_times = np.zeros(self.n_envs, dtype=np.int64)
        self._episode_returns = np.zeros(self.n_envs, dtype=np.float64)
        self._done = np.zeros(self.n_envs, dtype=bool)
        self._reset_steps = np.zeros(self.n_envs, dtype=bool)
        self._next_seed: Any = None
        self._closed = False

    # -- the vector env interface ----------------------------------------------------------------

    def reset(self, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Reset all envs; ``seed`` as gymnasium takes it (an int seeds env ``i`` with ``seed + i``
        in gymnasium's own vector envs). Episodes in progress do not count in the statistics."""
        self._check_open()
        if seed is None:
            seed, self._next_seed = self._next_seed, None
        observation, info = self._timed("reset", self.env.reset, seed=_gym_seed(seed), options=options)
        try:
            observation = self._conversion.observation(observation, batched=True)
        except EnvOutputError as error:
            raise output_error(error, "reset", self.logging_prefix) from None
        self._env_times[:] = 0
        self._episode_returns[:] = 0.0
        self._done[:] = False
        self._reset_steps[:] = False
        return observation, _VectorInfos(info, self.n_envs, self._conversion)

    def step(self, actions: dict[str, np.ndarray]):
        """Step all envs with the stacked ``actions``; returns ``(observations, rewards[float32],
        terminated[bool], truncated[bool], infos)`` like Maze's vector envs."""
        self._check_open()
        action = self._conversion.gym_action(actions, batched=True)
        observation, rewards, terminated, truncated, info = self._timed("step", self.env.step, action)
        try:  # numbers only: a None observation would become NaN, a string a bare ValueError
            observation = self._conversion.observation(observation, batched=True)
            rewards = numeric(rewards, "reward", np.float32, batched=True)
        except EnvOutputError as error:
            raise output_error(error, "step", self.logging_prefix) from None
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        done = terminated | truncated
        times = self._env_times
        if self.autoreset_mode == NEXT_STEP:
            # envs that ended in the previous step were only reset by this one
            np.copyto(self._reset_steps, self._done)
            times += 1
            times[self._reset_steps] = 0
        else:
            times += 1
        returns = self._episode_returns
        returns += rewards
        if done.any():
            ended = np.flatnonzero(done)
            self.episode_recorder.add_episodes(returns[ended], times[ended])
            returns[ended] = 0.0
            if self.autoreset_mode == SAME_STEP:
                times[ended] = 0
        self._done = done
        return (
            observation,
            rewards,
            terminated,
            truncated,
            _VectorInfos(info, self.n_envs, self._conversion),
        )

    def reset_steps(self) -> np.ndarray:
        """Per env: whether the last step only reset it (next-step autoreset; never in same-step
        mode). Such a transition is not trained on and not counted in an episode."""
        return self._reset_steps

    def seed(self, seeds) -> None:
        """Store seeds for the next ``reset()`` without a seed."""
        self._next_seed = seeds

    def call(self, name: str, *args, **kwargs) -> list[Any]:
        """``call`` of the gymnasium vector env (its sync and async vector envs have it)."""
        self._check_open()
        call = getattr(self.env, "call", None)
        if call is None:
            raise MazeError(f"{type(self.env).__name__} has no call(); use .env to reach it directly.")
        return list(call(name, *args, **kwargs))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            STEP_CLOCK.release()
            self.env.close()

    def actor_id(self) -> ActorID:
        return self._actor_id

    def is_actor_done(self) -> np.ndarray:
        """Per env: whether its episode ended in the last step."""
        return self._done

    def get_env_time(self) -> np.ndarray:
        """Per env: env steps of its current episode (next-step mode: the ended episode's length
        until the env's reset step)."""
        return self._env_times

    @property
    def agent_counts_dict(self) -> dict[int, int]:
        return {0: 1}

    @property
    def observation_spaces_dict(self) -> dict[int, gymnasium.spaces.Dict]:
        return {0: self._conversion.observation_space}

    @property
    def action_spaces_dict(self) -> dict[int, gymnasium.spaces.Dict]:
        return {0: self._conversion.action_space}

    @property
    def observation_space(self) -> gymnasium.spaces.Dict:
        """The observation space of one env."""
        return self._conversion.observation_space

    @property
    def action_space(self) -> gymnasium.spaces.Dict:
        """The action space of one env."""
        return self._conversion.action_space

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NativeVectorEnv({self.env}, n_envs={self.n_envs}, autoreset_mode={self.autoreset_mode!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise MazeError("this NativeVectorEnv is closed; create a new one.")

    def _timed(self, during: str, call, *args, **kwargs):
        """``call(*args, **kwargs)`` within the step timeout (see ``faults._StepClock``)."""
        STEP_CLOCK.start(self._step_timeout_s)
        try:
            return call(*args, **kwargs)
        except StepTimeout:
            detail = f"(the vector env of {self.n_envs} envs) {timeout_detail(self._step_timeout_s)}"
            raise env_error(0, during, detail, None, self.logging_prefix) from None
        finally:
            STEP_CLOCK.stop()


def _gym_seed(seed):
    if seed is None or isinstance(seed, (int, np.integer)):
        return None if seed is None else int(seed)
    return list(seed)


class _VectorInfos(Sequence):
    """Gymnasium's vector info (a dict of arrays with ``_key`` masks) as a list of per-env dicts,
    built only for the envs someone looks at (usually none)."""

    def __init__(self, info: dict, n_envs: int, conversion: GymConversion):
        self._info = info
        self._n_envs = n_envs
        self._conversion = conversion

    def __len__(self) -> int:
        return self._n_envs

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n_envs))]
        if not -self._n_envs <= index < self._n_envs:
            raise IndexError(index)
        info = _env_info(self._info, int(index) % self._n_envs)
        if "final_obs" in info:
            info["final_observation"] = self._conversion.observation(info.pop("final_obs"))
        return info


def _env_info(info: dict, index: int) -> dict:
    """Env ``index``'s part of a gymnasium vector info."""
    result = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not mask[index]:
            continue
        result[key] = _env_info(value, index) if isinstance(value, dict) else value[index]
    return result


VectorEnvMaker = Callable[[int], gymnasium.vector.VectorEnv]


class VectorEnvFactory:
    """An env source that creates a whole batch of envs at once: ``make(n_envs)`` returns a
    gymnasium ``VectorEnv`` of ``n_envs`` envs, which the runners step as one batch.

    Pass one as ``RunContext(env=VectorEnvFactory(make))``, e.g. with
    ``make = lambda n: envpool.make_gymnasium("CartPole-v1", num_envs=n)`` or your own batched
    env. Gymnasium ids with a vector entry point get one automatically (:func:`native_factory`).
    Calling the factory without arguments creates a one-env :class:`NativeVectorEnv` (its spaces
    build the networks). ``make`` must be picklable (cloudpickle) for the local runner.
    """

    def __init__(self, make: VectorEnvMaker, name: str | None = None):
        if not callable(make):
            raise ConfigurationError(
                f"VectorEnvFactory needs a function n_envs -> gymnasium.vector.VectorEnv, got {make!r}."
            )
        self.make = make
        self.name = name or getattr(make, "__name__", type(make).__name__)
        self.__name__ = self.name  # what RunContext names the run after

    def __call__(
        self, n_envs: int = 1, logging_prefix: str | None = None, step_timeout_s: float | None = None
    ) -> NativeVectorEnv:
        vector_env = self.make(n_envs)
        if not isinstance(vector_env, gymnasium.vector.VectorEnv):
            raise ConfigurationError(
                f"the vector env factory {self.name!r} returned {type(vector_env).__name__}, not a "
                "gymnasium.vector.VectorEnv."
            )
        if vector_env.num_envs != n_envs:
            vector_env.close()
            raise ConfigurationError(
                f"the vector env factory {self.name!r} was asked for {n_envs} envs and returned "
                f"{vector_env.num_envs}."
            )
        return NativeVectorEnv(vector_env, logging_prefix=logging_prefix, step_timeout_s=step_timeout_s)

    def __repr__(self) -> str:
        return f"VectorEnvFactory({self.name!r})"


class _MakeVec:
    """``gymnasium.make_vec(gym_id, n_envs)`` with the id's vector entry point (picklable)."""

    def __init__(self, gym_id: str):
        self.gym_id = gym_id
        self.__name__ = gym_id

    def __call__(self, n_envs: int) -> gymnasium.vector.VectorEnv:
        return gymnasium.make_vec(self.gym_id, num_envs=n_envs, vectorization_mode="vector_entry_point")


def native_factory(env_factory, auto: bool = True) -> VectorEnvFactory | None:
    """The vector env factory to use for ``env_factory``, or None for the per-env path.

    A :class:`VectorEnvFactory` is used as it is. With ``auto``, a plain gymnasium id (no Maze
    wrappers: they work per env) whose registration has a ``vector_entry_point`` gets
    ``gymnasium.make_vec`` with that entry point.
    """
    if isinstance(env_factory, VectorEnvFactory):
        return env_factory
    if auto and isinstance(env_factory, GymIdFactory):
        spec = gymnasium.spec(env_factory.gym_id)
        if spec.vector_entry_point is not None:
            return VectorEnvFactory(_MakeVec(env_factory.gym_id), name=env_factory.gym_id)
    return None

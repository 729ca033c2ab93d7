"""The base of the vector envs: what stepping several envs at once means, whichever runs them.

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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from maze_core.env._worker import ResetRecord, StepRecord
from maze_core.env.faults import output_error
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


def check_factories(env_factories) -> list[EnvFactory]:
    if callable(env_factories) or isinstance(env_factories, StructuredEnv):
        raise ConfigurationError(
            "env_factories must be a list of functions that each create a new env, e.g. "
            "[make_env] * 4, got a single " + type(env_factories).__name__ + "."
        )
    factories = list(env_factories)
    if not factories:
        raise ConfigurationError("env_factories is empty; a vector env needs at least one env factory.")
    return [check_env_factory(factory, f"env_factories[{index}]") for index, factory in enumerate(factories)]


def check_same_spaces(index: int, description: tuple, reference: tuple) -> None:
    if description != reference:
        raise ConfigurationError(
            f"env {index} has other spaces or agent counts than env 0 (observation spaces, action "
            f"spaces, agent counts):\n  env 0: {reference}\n  env {index}: {description}\n"
            "All envs of a vector env must be alike."
        )


def spaces_of(env: StructuredEnv) -> tuple:
    return env.observation_spaces_dict, env.action_spaces_dict, env.agent_counts_dict

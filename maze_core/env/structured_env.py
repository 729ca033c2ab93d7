"""The environment interface: actors, step keys, env time and the :class:`MazeEnv` base class.

A Maze env speaks in dicts: observations and actions are ``{name: numpy array}`` and every space
is a :class:`gymnasium.spaces.Dict`. An env may be *structured*: one env step can consist of
several sub-steps, each identified by a **step key** (which observation/action space and which
policy network apply), and several agents may act within one sub-step type. Whoever acts next is
told by :meth:`StructuredEnv.actor_id`. **Env time** (:meth:`StructuredEnv.get_env_time`) counts
completed env steps; all sub-steps of one env step share it, which is how statistics and rollouts
group sub-steps.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import gymnasium
import numpy as np

StepKey = int | str
ObservationType = dict[str, np.ndarray]
ActionType = dict[str, Any]


class ActorID(NamedTuple):
    """Who acts next: the sub-step type (``step_key``) and the agent within it (``agent_id``).

    Being a NamedTuple, ``ActorID(0, 0) == (0, 0)``.
    """

    step_key: StepKey
    agent_id: int


class StructuredEnv(abc.ABC):
    """The interface every Maze env (and every env wrapper) offers; see the module docstring.

    ``reset`` and ``step`` follow gymnasium conventions (``terminated`` ends an episode in a
    terminal state, ``truncated`` cuts it off, e.g. at a time limit, and is bootstrapped).
    """

    @abc.abstractmethod
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[ObservationType, dict]:
        """Start a new episode; returns ``(observation, info)``."""

    @abc.abstractmethod
    def step(self, action: ActionType) -> tuple[ObservationType, float, bool, bool, dict]:
        """Apply the current actor's action; returns ``(obs, reward, terminated, truncated, info)``."""

    @abc.abstractmethod
    def seed(self, seed: int | None) -> None:
        """Seed the env; takes effect at the next :meth:`reset` without an explicit seed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release resources (windows, processes, files)."""

    @abc.abstractmethod
    def actor_id(self) -> ActorID:
        """The actor that must act next (decided by ``reset``/``step``, constant in between)."""

    @abc.abstractmethod
    def is_actor_done(self) -> bool:
        """Whether the actor that just stepped is finished (an agent may finish before the env)."""

    @property
    @abc.abstractmethod
    def agent_counts_dict(self) -> dict[StepKey, int]:
        """Maximum number of agents per step key; ``-1`` means dynamic/unknown."""

    @property
    @abc.abstractmethod
    def observation_spaces_dict(self) -> dict[StepKey, gymnasium.spaces.Dict]:
        """The observation space of every step key."""

    @property
    @abc.abstractmethod
    def action_spaces_dict(self) -> dict[StepKey, gymnasium.spaces.Dict]:
        """The action space of every step key."""

    @abc.abstractmethod
    def get_env_time(self) -> int:
        """Number of completed env steps in this episode (sub-steps of one env step share it)."""

    def pop_metrics(self) -> list[tuple[str, float]]:
        """Return and forget the ``(name, value)`` metrics the env recorded since the last call."""
        return []

    @property
    def observation_space(self) -> gymnasium.spaces.Dict:
        """The observation space of the current step key."""
        return self.observation_spaces_dict[self.actor_id().step_key]

    @property
    def action_space(self) -> gymnasium.spaces.Dict:
        """The action space of the current step key."""
        return self.action_spaces_dict[self.actor_id().step_key]

    @property
    def unwrapped(self) -> StructuredEnv:
        """The innermost env (wrappers override this)."""
        return self


_SINGLE_ACTOR = ActorID(0, 0)


class MazeEnv(StructuredEnv):
    """Base class for your own env, written directly against Maze (no gymnasium env needed).

    Implement ``reset(seed=None, options=None)``, ``step(action)``, ``observation_spaces_dict``
    and ``action_spaces_dict``; for a structured env also ``actor_id()`` (and ``is_actor_done()``,
    ``agent_counts_dict`` for several agents). Everything else has a default:

    * **Seeding.** Before your ``reset`` runs, :attr:`np_random` is re-created from the seed
      (``reset(seed=...)``, or the seed stored by :meth:`seed`), so draw all randomness from it.
    * **Env time.** An env with one step key and one agent gets its env time advanced after every
      ``step`` automatically. Any other env calls :meth:`advance_env_time` at the end of the last
      sub-step of an env step. An episode that ends in the middle of an env step completes it (env
      time advances by one), so that env step counts in the episode length.
    * **Metrics.** :meth:`record_metric` reports a named value; vector envs and
      :class:`~maze_core.env.wrappers.LogStatsWrapper` report its epoch mean as ``metric/<name>``.

    ``__init__`` takes no arguments and calling it is optional. The bookkeeping runs around your
    ``reset``/``step`` (a subclass's methods are wrapped once, at class creation), so it works
    whether or not your methods call ``super()``.
    """

    metadata: dict[str, Any] = {"render_modes": []}
    render_mode: str | None = None

    # class-level defaults, so that subclasses need not call MazeEnv.__init__
    _env_time = 0
    _auto_env_time = True
    _next_seed: int | None = None
    _completed_env_step = True
    _np_random: np.random.Generator | None = None
    # True in (internal) subclasses whose step() advances _env_time itself, saving the step wrapper
    _advances_env_time_itself = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "reset" in cls.__dict__:
            cls.reset = _wrap_reset(cls.__dict__["reset"])
        if "step" in cls.__dict__ and not cls._advances_env_time_itself:
            cls.step = _wrap_step(cls.__dict__["step"])

    @abc.abstractmethod
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[ObservationType, dict]:
        """Start a new episode; returns ``(observation, info)``. (:attr:`np_random` is seeded already.)"""

    @abc.abstractmethod
    def step(self, action: ActionType) -> tuple[ObservationType, float, bool, bool, dict]:
        """Apply the current actor's action; returns ``(obs, reward, terminated, truncated, info)``."""

    def seed(self, seed: int | None) -> None:
        """Store ``seed`` for the next :meth:`reset` that is called without a seed (used once)."""
        self._next_seed = seed

    def close(self) -> None:
        """Nothing to release by default."""

    def actor_id(self) -> ActorID:
        return _SINGLE_ACTOR

    def is_actor_done(self) -> bool:
        return False

    @property
    def agent_counts_dict(self) -> dict[StepKey, int]:
        """One agent per step key unless overridden."""
        return {step_key: 1 for step_key in self.action_spaces_dict}

    @property
    def np_random(self) -> np.random.Generator:
        """The env's random generator, re-created from the seed at every seeded reset."""
        if self._np_random is None:
            self._np_random = np.random.default_rng()
        return self._np_random

    def get_env_time(self) -> int:
        return self._env_time

    def advance_env_time(self) -> None:
        """Mark the end of an env step (call it at the end of the last sub-step of a structured env).

        Envs with one step key and one agent get this automatically after every ``step``; for them
        this call does nothing.
        """
        if not self._auto_env_time:
            self._env_time += 1

    def completed_env_step(self) -> bool:
        """Whether the last ``step`` completed an env step: false for a sub-step inside one, also
        when the episode ended there (though env time then advances so that the step counts)."""
        return self._completed_env_step

    def record_metric(self, name: str, value: float) -> None:
        """Report a value of the env's own metric ``name`` (e.g. once per step or per episode).

        Statistics report the epoch mean over all recorded values as ``metric/<name>``.
        """
        self.__dict__.setdefault("_maze_metrics", []).append((name, float(value)))

    def pop_metrics(self) -> list[tuple[str, float]]:
        return self.__dict__.pop("_maze_metrics", None) or []


def is_single_actor(agent_counts_dict: Mapping[StepKey, int]) -> bool:
    """Whether an env has one step key with one agent (then every ``step`` is one env step)."""
    return len(agent_counts_dict) == 1 and next(iter(agent_counts_dict.values())) == 1


def _wrap_reset(reset):
    """Seed ``np_random`` and restart env time before a MazeEnv subclass's own ``reset``."""

    @functools.wraps(reset)
    def wrapped(self, seed=None, options=None):
        if type(self).reset is wrapped:  # outermost call (not a super().reset() from a subclass)
            if seed is None:
                seed, self._next_seed = self._next_seed, None
            if seed is not None:
                self._np_random = np.random.default_rng(seed)
            self._env_time = 0
            self.__dict__.pop("_maze_metrics", None)
            self._auto_env_time = is_single_actor(self.agent_counts_dict)
        return reset(self, seed=seed, options=options)

    return wrapped


def _wrap_step(step):
    """Advance env time after a MazeEnv subclass's own ``step``: always for single-actor envs, and
    at the end of an episode that ended in the middle of an env step (so that env step counts)."""

    @functools.wraps(step)
    def wrapped(self, action):
        if type(self).step is not wrapped:  # a super().step() call from a subclass's step
            return step(self, action)
        env_time = self._env_time
        result = step(self, action)
        self._completed_env_step = self._auto_env_time or self._env_time != env_time
        if self._auto_env_time or ((result[2] or result[3]) and self._env_time == env_time):
            self._env_time = env_time + 1
        return result

    return wrapped

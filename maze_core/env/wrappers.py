"""Env wrappers: the transparent :class:`Wrapper` base, convenience wrappers and LogStatsWrapper."""

from __future__ import annotations

import types
from typing import Any

from gymnasium import spaces

from maze_core.env.log_stats import LogStatsEnv
from maze_core.env.structured_env import ActorID, StepKey, StructuredEnv
from maze_core.statistics import EpisodeRecorder

_transparent_classes: dict[tuple[type, type], type] = {}


def _transparent_class(wrapper_type: type, inner_class: type) -> type:
    """A class deriving from both the wrapper's type and the wrapped env's class (cached).

    It is only ever reported as ``__class__`` (never instantiated, never used for attribute
    lookup), so that ``isinstance(wrapped, InnerEnvClass)`` holds.
    """
    key = (wrapper_type, inner_class)
    cls = _transparent_classes.get(key)
    if cls is None:
        if issubclass(inner_class, wrapper_type):
            cls = inner_class
        else:
            try:
                cls = types.new_class(
                    f"{wrapper_type.__name__}[{inner_class.__name__}]", (wrapper_type, inner_class)
                )
                cls.__module__ = wrapper_type.__module__
            except TypeError:  # incompatible bases (layout or metaclass conflict): no transparency
                cls = wrapper_type
        _transparent_classes[key] = cls
    return cls


class Wrapper(StructuredEnv):
    """Base class of env wrappers; create them with ``MyWrapper.wrap(env, **kwargs)``.

    A wrapper is transparent: ``isinstance(wrapped, C)`` holds for the wrapper's classes *and* the
    wrapped env's classes (``isinstance(LogStatsWrapper.wrap(GymMazeEnv(...)), GymMazeEnv)``), and
    reading an attribute the wrapper does not have reads it from the wrapped env. Setting an
    attribute sets it on the wrapper; use :attr:`env` or :attr:`unwrapped` to change the env.
    ``type(wrapped)`` is still the wrapper's own class.
    """

    def __init__(self, env: StructuredEnv):
        if not isinstance(env, StructuredEnv):
            raise TypeError(
                f"{type(self).__name__} wraps Maze envs, got {type(env).__name__}; "
                "wrap a gymnasium env in GymMazeEnv first."
            )
        self.env = env

    @classmethod
    def wrap(cls, env: StructuredEnv, **kwargs):
        """Wrap ``env`` in this wrapper (the keyword arguments go to the constructor)."""
        return cls(env, **kwargs)

    @property
    def __class__(self):
        env = self.__dict__.get("env")
        return type(self) if env is None else _transparent_class(type(self), env.__class__)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails; "env" missing means construction has not finished
        if name == "env" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def __reduce_ex__(self, protocol):
        # pickle by the real type, not the reported __class__ (which is not importable)
        return _reconstruct_wrapper, (type(self), self.__dict__.copy())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"

    # -- the StructuredEnv interface, forwarded --------------------------------------------------

    def reset(self, seed: int | None = None, options: dict | None = None):
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        return self.env.step(action)

    def seed(self, seed: int | None) -> None:
        self.env.seed(seed)

    def close(self) -> None:
        self.env.close()

    def actor_id(self) -> ActorID:
        return self.env.actor_id()

    def is_actor_done(self) -> bool:
        return self.env.is_actor_done()

    @property
    def agent_counts_dict(self) -> dict[StepKey, int]:
        return self.env.agent_counts_dict

    @property
    def observation_spaces_dict(self) -> dict[StepKey, spaces.Dict]:
        return self.env.observation_spaces_dict

    @property
    def action_spaces_dict(self) -> dict[StepKey, spaces.Dict]:
        return self.env.action_spaces_dict

    @property
    def observation_space(self) -> spaces.Dict:
        return self.env.observation_space

    @property
    def action_space(self) -> spaces.Dict:
        return self.env.action_space

    def get_env_time(self) -> int:
        return self.env.get_env_time()

    def pop_metrics(self) -> list[tuple[str, float]]:
        return self.env.pop_metrics()

    @property
    def unwrapped(self) -> StructuredEnv:
        return self.env.unwrapped


def _reconstruct_wrapper(wrapper_type: type, state: dict) -> Wrapper:
    wrapper = object.__new__(wrapper_type)
    wrapper.__dict__.update(state)
    return wrapper


class ObservationWrapper(Wrapper):
    """Transform every observation with :meth:`observation` (override ``observation_spaces_dict``
    too if the spaces change)."""

    def observation(self, observation: dict) -> dict:
        raise NotImplementedError

    def reset(self, seed: int | None = None, options: dict | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        return self.observation(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self.observation(observation), reward, terminated, truncated, info


class ActionWrapper(Wrapper):
    """Transform every action with :meth:`action` before it reaches the env."""

    def action(self, action: dict) -> dict:
        raise NotImplementedError

    def reverse_action(self, action: dict) -> dict:
        """The inverse of :meth:`action` (optional; e.g. for imitation learning)."""
        raise NotImplementedError

    def step(self, action):
        return self.env.step(self.action(action))


class RewardWrapper(Wrapper):
    """Transform every reward with :meth:`reward`."""

    def reward(self, reward: float) -> float:
        raise NotImplementedError

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, self.reward(reward), terminated, truncated, info


class LogStatsWrapper(Wrapper, LogStatsEnv):
    """Record episode returns, lengths and env metrics of one env, and reduce them per epoch.

    An episode's return sums the rewards of all its (sub-)steps; its length is the env time at its
    end, i.e. counts env steps, not sub-steps. Metrics the env records (``record_metric``) are
    reported as ``metric/<name>`` epoch means. With a ``logging_prefix``, :meth:`write_epoch_stats`
    also sends the statistics to the log hub (console, TensorBoard, ...) under that prefix. See
    :class:`~maze_core.env.log_stats.LogStatsEnv` for what counts as a finished episode.
    """

    def __init__(self, env: StructuredEnv, logging_prefix: str | None = None):
        super().__init__(env)
        self.logging_prefix = logging_prefix
        self.episode_recorder = EpisodeRecorder()
        self._episode_return = 0.0
        self._episode_start_time = 0
        self._step_metrics: list[tuple[str, float]] = []

    def reset(self, seed: int | None = None, options: dict | None = None):
        result = self.env.reset(seed=seed, options=options)
        self._episode_return = 0.0
        self._episode_start_time = self.env.get_env_time()
        return result

    def step(self, action):
        result = self.env.step(action)
        self._episode_return += result[1]
        metrics = self.env.pop_metrics()
        if metrics:
            for name, value in metrics:
                self.episode_recorder.add_metric(name, value)
            self._step_metrics = metrics
        if result[2] or result[3]:
            length = self.env.get_env_time() - self._episode_start_time
            self.episode_recorder.add_episode(self._episode_return, length)
            self._episode_return = 0.0
        return result

    def pop_metrics(self) -> list[tuple[str, float]]:
        """The metrics of the last step, passed on so that an outer consumer sees them too."""
        metrics, self._step_metrics = self._step_metrics, []
        return metrics

"""Observation and reward normalization with running statistics, for any Maze vector env.

:class:`NormalizedVectorEnv` wraps a vector env of any kind (``SequentialVectorEnv``,
``SubprocVectorEnv``, ``NativeVectorEnv``) and normalizes, as Stable-Baselines3's ``VecNormalize``
does:

* **observations**: every float entry of the observation dicts, ``(x - mean) / sqrt(var + eps)``
  clipped to ``[-clip, clip]``, with the mean and variance of all observations seen in training
  (per step key and observation key, per element);
* **rewards**: divided by the standard deviation of the discounted return (the return a reward
  contributes to, ``G = gamma * G + r``, restarted at episode ends), clipped; the reward's sign
  and the optimal policy are unchanged, only its scale.

Statistics are updated while ``training`` is true. An evaluation env shares the training env's
:class:`Normalization` with ``training=False``: it uses the current statistics, frozen, and returns
raw rewards. Episode statistics (returns, lengths) are always those of the raw rewards, because
the wrapped env records them. The statistics go into the trainer's checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from maze_core.env.spaces import MASK_SUFFIX
from maze_core.errors import ConfigurationError


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel update, in float64)."""

    def __init__(self, shape: tuple[int, ...] = ()):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 1e-4  # as Stable-Baselines3: the first batch dominates at once

    def update(self, batch: np.ndarray) -> None:
        """Add a batch of samples (the first axis runs over samples)."""
        batch_mean = batch.mean(axis=0, dtype=np.float64)
        batch_var = batch.var(axis=0, dtype=np.float64)
        batch_count = batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean = self.mean + delta * (batch_count / total)
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * (self.count * batch_count / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        """Tensors and floats, so that ``torch.load(weights_only=True)`` reads it."""
        import torch

        return {
            "mean": torch.tensor(self.mean, dtype=torch.float64),
            "var": torch.tensor(self.var, dtype=torch.float64),
            "count": float(self.count),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = state["mean"].numpy().astype(np.float64)
        self.var = state["var"].numpy().astype(np.float64)
        self.count = float(state["count"])


class Normalization:
    """The statistics and settings of a normalization, shared by a training env and its evaluation
    envs. Observation statistics are kept per ``(step_key, observation_key)`` for every float Box
    entry of the observation spaces; other entries (integers, discrete values, action masks)
    pass unchanged."""

    def __init__(
        self,
        observation_spaces_dict: dict,
        observations: bool = True,
        rewards: bool = True,
        clip_observations: float = 10.0,
        clip_rewards: float = 10.0,
        gamma: float = 0.99,
        epsilon: float = 1e-8,
    ):
        for name, value in (("clip_observations", clip_observations), ("clip_rewards", clip_rewards)):
            if not value > 0:
                raise ConfigurationError(f"normalization {name}={value!r} is invalid: it must be > 0")
        if not 0.0 <= gamma <= 1.0:
            raise ConfigurationError(f"normalization gamma={gamma!r} is invalid: it must be in [0, 1]")
        self.observations = observations
        self.rewards = rewards
        self.clip_observations = clip_observations
        self.clip_rewards = clip_rewards
        self.gamma = gamma
        self.epsilon = epsilon
        self.observation_stats: dict[Any, dict[str, RunningMeanStd]] = {
            step_key: {
                key: RunningMeanStd(space.shape)
                for key, space in dict_space.spaces.items()
                if isinstance(space, spaces.Box)
                and np.issubdtype(space.dtype, np.floating)
                and not key.endswith(MASK_SUFFIX)  # an action mask stays 0/1
            }
            for step_key, dict_space in observation_spaces_dict.items()
        }
        self.return_stats = RunningMeanStd()

    def normalize_observation(self, observation: dict, step_key, update: bool) -> dict:
        """A normalized copy of ``observation`` (stacked over envs, or one env's: the trailing axes
        match the statistics); ``update`` adds a stacked observation to the statistics first."""
        if not self.observations:
            return observation
        stats = self.observation_stats[step_key]
        result = dict(observation)
        for key, key_stats in stats.items():
            value = np.asarray(observation[key])
            if update:
                key_stats.update(value)
            normalized = (value - key_stats.mean) / np.sqrt(key_stats.var + self.epsilon)
            result[key] = np.clip(normalized, -self.clip_observations, self.clip_observations).astype(
                value.dtype
            )
        return result

    def scale_rewards(self, rewards: np.ndarray) -> np.ndarray:
        scale = np.sqrt(self.return_stats.var + self.epsilon)
        return np.clip(rewards / scale, -self.clip_rewards, self.clip_rewards).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {
            "observations": {
                str(step_key): {key: rms.state_dict() for key, rms in stats.items()}
                for step_key, stats in self.observation_stats.items()
            },
            "returns": self.return_stats.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for step_key, stats in self.observation_stats.items():
            for key, rms in stats.items():
                rms.load_state_dict(state["observations"][str(step_key)][key])
        self.return_stats.load_state_dict(state["returns"])


class NormalizedVectorEnv:
    """A vector env whose observations and rewards are normalized (see the module docstring).

    Everything else (spaces, ``n_envs``, actors, env times, epoch statistics, ``close``) is the
    wrapped env's.

    :param env: the vector env to wrap.
    :param normalization: the statistics to use; None creates new ones from ``**settings``
        (``observations``, ``rewards``, ``clip_observations``, ``clip_rewards``, ``gamma``, ``epsilon``).
    :param training: update the statistics and scale rewards (False for evaluation: frozen
        statistics, raw rewards).
    """

    def __init__(self, env, normalization: Normalization | None = None, training: bool = True, **settings):
        self.env = env
        self.normalization = normalization or Normalization(env.observation_spaces_dict, **settings)
        self.training = training
        self._returns = np.zeros(env.n_envs, dtype=np.float64)

    def __getattr__(self, name: str):
        if name == "env" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, seed=None, options: dict | None = None):
        observation, infos = self.env.reset(seed=seed, options=options)
        self._returns[:] = 0.0
        return self._observation(observation, self.training), infos

    def step(self, actions):
        observation, rewards, terminated, truncated, infos = self.env.step(actions)
        normalization = self.normalization
        done = terminated | truncated
        if done.any():
            infos = _NormalizedFinalObservations(infos, np.flatnonzero(done), self)
        if self.training and normalization.rewards:
            returns = self._returns
            returns *= normalization.gamma
            returns += rewards
            # a next-step env's reset-only step is no transition: its zero return is no sample
            reset_only = self.env.reset_steps() if hasattr(self.env, "reset_steps") else None
            if reset_only is None or not reset_only.any():
                normalization.return_stats.update(returns)
            elif not reset_only.all():
                normalization.return_stats.update(returns[~reset_only])
            returns[done] = 0.0
            rewards = normalization.scale_rewards(rewards)
        return self._observation(observation, self.training), rewards, terminated, truncated, infos

    def _observation(self, observation: dict, update: bool) -> dict:
        return self.normalization.normalize_observation(observation, self.env.actor_id().step_key, update)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.env.close()

    def __repr__(self) -> str:
        return f"NormalizedVectorEnv({self.env!r}, training={self.training})"


class _NormalizedFinalObservations(Sequence):
    """The wrapped env's infos, with the ``final_observation`` of the envs that ended normalized
    (for bootstrapping truncated episodes), built when looked at."""

    def __init__(self, infos: Sequence[dict], ended: np.ndarray, env: NormalizedVectorEnv):
        self._infos = infos
        self._ended = set(ended.tolist())
        self._env = env

    def __len__(self) -> int:
        return len(self._infos)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        info = self._infos[index]
        if index % len(self) in self._ended and "final_observation" in info:
            final = info["final_observation"]
            info = {**info, "final_observation": self._env._observation(final, update=False)}
        return info

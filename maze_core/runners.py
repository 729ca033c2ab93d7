"""Runners: where the envs of a training run live.

A runner turns (env factory, algorithm config, model) into a trainer. The base class does what
every runner shares (the trainer, the evaluator); a subclass decides where envs run by building
the rollout collector. The ``dev`` runner steps its envs in this process, ``local`` in one
subprocess per env; a distributed runner would return a collector whose workers step envs on
other machines with a copy of the policy and ship trajectories back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from maze_core.errors import ConfigurationError


def check_integer_options(*options: tuple[str, object, int]) -> None:
    """Raise a ConfigurationError naming the first ``(name, value, minimum)`` whose value is not an
    integer >= minimum."""
    for name, value, minimum in options:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigurationError(
                f"runner.{name}={value!r} is invalid: it must be an integer >= {minimum}"
            )


class Runner(ABC):
    """Base runner.

    :param n_envs: training envs stepped together (one rollout covers all of them).
    :param n_eval_envs: envs of the default evaluator (used when the algorithm config has none).
    :param eval_episodes: episodes of the default evaluator; 0 evaluates nothing (the best model
        is then selected by the mean training return).
    :param torch_threads: torch CPU threads for the trainer; 1 is fastest for small models.
    :param native_vector_env: step a gymnasium id whose registration has a vector entry point
        (e.g. CartPole-v1) as one native vector env (``gymnasium.make_vec``) instead of one
        ``GymMazeEnv`` per env; an env given as a ``VectorEnvFactory`` is always stepped natively.
    :param normalize_observations: normalize the float observations of the training envs with
        running mean/std statistics (frozen at evaluation, saved in the checkpoint).
    :param normalize_rewards: scale the training rewards by the running standard deviation of the
        discounted return (Stable-Baselines3's ``VecNormalize``); reported returns stay raw.
    :param step_timeout_s: seconds an env may take for one step or reset before training stops with
        an error (the checkpoint and the best model are kept); None waits forever.
    """

    #: options that decide where this machine connects, or what it reaches outside the run (a
    #: cluster's address): a run directory never sets them. When a run is rebuilt from its
    #: ``config.json`` they are left out unless the user gives them again (``--set`` with
    #: ``--resume``, ``from_run_dir(overrides=...)``) or trusts the run (docs/run-directories.md).
    machine_options: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        n_envs: int = 4,
        n_eval_envs: int = 4,
        eval_episodes: int = 8,
        torch_threads: int = 1,
        native_vector_env: bool = True,
        normalize_observations: bool = False,
        normalize_rewards: bool = False,
        step_timeout_s: float | None = None,
    ):
        check_integer_options(
            ("n_envs", n_envs, 1),
            ("n_eval_envs", n_eval_envs, 1),
            ("eval_episodes", eval_episodes, 0),
            ("torch_threads", torch_threads, 1),
        )
        self.n_envs = n_envs
        self.n_eval_envs = n_eval_envs
        self.eval_episodes = eval_episodes
        self.torch_threads = torch_threads
        for name, value in (
            ("native_vector_env", native_vector_env),
            ("normalize_observations", normalize_observations),
            ("normalize_rewards", normalize_rewards),
        ):
            if not isinstance(value, bool):
                raise ConfigurationError(f"runner.{name}={value!r} is invalid: it must be true or false")
        self.native_vector_env = native_vector_env
        self.normalize_observations = normalize_observations
        self.normalize_rewards = normalize_rewards
        from maze_core.env.vector import checked_step_timeout

        self.step_timeout_s = checked_step_timeout(step_timeout_s, "runner.step_timeout_s")
        self._owned = []  # envs/collectors this runner created and must close

    @abstractmethod
    def make_vector_env(self, env_factories, logging_prefix: str):
        """A vector env over ``env_factories`` (one env per factory)."""

    def make_native_vector_env(self, vector_env_factory, n_envs: int, logging_prefix: str | None):
        """A :class:`~maze_core.env.native.NativeVectorEnv` of ``n_envs`` envs (in this process)."""
        return vector_env_factory(n_envs, logging_prefix=logging_prefix, step_timeout_s=self.step_timeout_s)

    def make_envs(self, env_factory, n_envs: int, logging_prefix: str | None = None):
        """``n_envs`` envs of ``env_factory`` as one vector env: native where there is a native
        implementation (see ``native_vector_env``), else one env per factory call."""
        from maze_core.env.native import native_factory

        vector_env_factory = native_factory(env_factory, auto=self.native_vector_env)
        if vector_env_factory is not None:
            return self.make_native_vector_env(vector_env_factory, n_envs, logging_prefix)
        return self.make_vector_env([env_factory] * n_envs, logging_prefix=logging_prefix)

    def make_collector(self, env_factory, device, seed: int | None, gamma: float = 0.99, model=None):
        """The training envs' rollout source; ``gamma`` discounts the returns whose scale
        normalizes the rewards (``normalize_rewards``); ``model`` is the learner's, for runners
        whose workers act with copies of it."""
        from maze_core.env.normalization import NormalizedVectorEnv
        from maze_core.training.rollout import VectorEnvCollector

        env = self.make_envs(env_factory, self.n_envs, logging_prefix="train")
        if self.normalize_observations or self.normalize_rewards:
            env = NormalizedVectorEnv(
                env, observations=self.normalize_observations, rewards=self.normalize_rewards, gamma=gamma
            )
        return VectorEnvCollector(env, device=device, seed=seed)

    def make_evaluator(self, env_factory, collector):
        """The default evaluator: ``eval_episodes`` deterministic episodes on ``n_eval_envs`` envs."""
        from maze_core.training.evaluator import RolloutEvaluator

        n_eval_envs = min(self.n_eval_envs, self.eval_episodes)
        eval_env = self.make_envs(env_factory, n_eval_envs, logging_prefix="eval")
        self._owned.append(eval_env)
        normalization = getattr(getattr(collector, "env", None), "normalization", None)
        if normalization is not None:  # evaluate with the training statistics, frozen
            from maze_core.env.normalization import NormalizedVectorEnv

            eval_env = NormalizedVectorEnv(eval_env, normalization, training=False)
        return RolloutEvaluator(eval_env, n_episodes=self.eval_episodes, deterministic=True)

    def settings(self) -> dict:
        """The runner's options, for the resolved config."""
        return {
            "n_envs": self.n_envs,
            "n_eval_envs": self.n_eval_envs,
            "eval_episodes": self.eval_episodes,
            "torch_threads": self.torch_threads,
            "native_vector_env": self.native_vector_env,
            "normalize_observations": self.normalize_observations,
            "normalize_rewards": self.normalize_rewards,
            "step_timeout_s": self.step_timeout_s,
        }

    def create_trainer(
        self, *, env_factory, algorithm, model, run_dir: Path | None, seed: int, progress=None
    ):
        """Build the collector, the evaluator and the algorithm's trainer for one run."""
        from maze_core._imports import import_object
        from maze_core.training.seeding import configure_torch_threads, derive_seed

        configure_torch_threads(self.torch_threads)
        device = next(iter(model.parameters())).device
        collector = self.make_collector(
            env_factory,
            device,
            derive_seed(seed, "train_envs"),
            gamma=getattr(algorithm, "gamma", 0.99),
            model=model,
        )
        self._owned.append(collector)
        evaluator = algorithm.rollout_evaluator
        if evaluator is None and self.eval_episodes > 0:
            evaluator = self.make_evaluator(env_factory, collector)
        trainer_class = import_object(algorithm.trainer_class, what="trainer class")
        return trainer_class(
            algorithm,
            model=model,
            collector=collector,
            evaluator=evaluator,
            run_dir=run_dir,
            eval_seed=derive_seed(seed, "eval_envs"),
            progress=progress,
        )

    def close(self) -> None:
        while self._owned:
            self._owned.pop().close()

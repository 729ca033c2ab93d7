"""Runners: where the envs of a training run live.

A runner turns (env factory, algorithm config, model) into a trainer. The base class does what
every runner shares (the trainer, the evaluator); a subclass decides where envs run by building
the rollout collector. The ``dev`` runner steps its envs in this process, ``local`` in one
subprocess per env; a distributed runner would return a collector whose workers step envs on
other machines with a copy of the policy and ship trajectories back.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from maze_core.errors import ConfigurationError

#: seconds the envs may take for one step or reset before training stops with an error: generous
#: (no env step should take minutes), so that a hanging env ends a run instead of blocking it forever
DEFAULT_STEP_TIMEOUT_S = 600.0

#: the least memory one env takes whatever it is: its row of a vector env's bookkeeping (env time,
#: return, flags) and of one rollout step of the smallest observation and action (with the reward,
#: flags, log-prob and value, in numpy and on the training device); refuses an absurd n_envs at once
MIN_BYTES_PER_ENV = 64


def check_integer_options(*options: tuple[str, object, int]) -> None:
    """Raise a ConfigurationError naming the first ``(name, value, minimum)`` whose value is not an
    integer >= minimum."""
    for name, value, minimum in options:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigurationError(
                f"runner.{name}={value!r} is invalid: it must be an integer >= {minimum}"
            )


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the OS has one (a container or
    ``taskset`` may allow fewer than the machine has), else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_machine_bounds(n_envs: int, n_eval_envs: int, torch_threads: int) -> None:
    """Refuse at construction what this machine cannot give: more torch threads than usable CPUs
    (torch would fail deep in OpenMP, or crawl), or more envs than memory could hold at even
    ``MIN_BYTES_PER_ENV`` each (e.g. ``n_envs=10**30``). A rollout gets the precise check, with
    the env's spaces and the model, before its buffers are allocated."""
    cpus = usable_cpus()
    if torch_threads > cpus:
        raise ConfigurationError(
            f"runner.torch_threads={torch_threads} is more than the {cpus} CPUs this process may use; "
            f"set runner.torch_threads to at most {cpus}"
        )
    from maze_core.training.memory import available_memory

    available = available_memory()
    if available is None:
        return
    most = available // MIN_BYTES_PER_ENV
    for name, value in (("n_envs", n_envs), ("n_eval_envs", n_eval_envs)):
        if value > most:
            raise ConfigurationError(
                f"runner.{name}={value} is more envs than this machine's memory can hold: each needs at "
                f"least {MIN_BYTES_PER_ENV} bytes, and {available / 2**30:.1f} GiB are available (at most "
                f"{most:,} envs); lower runner.{name}"
            )


class Runner(ABC):
    """Base runner.

    :param n_envs: training envs stepped together (one rollout covers all of them).
    :param n_eval_envs: envs of the default evaluator (used when the algorithm config has none).
    :param eval_episodes: episodes of the default evaluator; 0 evaluates nothing (the best model
        is then selected by the mean training return).
    :param torch_threads: torch CPU threads for the trainer; 1 is fastest for small models. At most
        the CPUs this process may use.
    :param native_vector_env: step a gymnasium id whose registration has a vector entry point
        (e.g. CartPole-v1) as one native vector env (``gymnasium.make_vec``) instead of one
        ``GymMazeEnv`` per env; an env given as a ``VectorEnvFactory`` is always stepped natively.
    :param normalize_observations: normalize the float observations of the training envs with
        running mean/std statistics (frozen at evaluation, saved in the checkpoint).
    :param normalize_rewards: scale the training rewards by the running standard deviation of the
        discounted return (Stable-Baselines3's ``VecNormalize``); reported returns stay raw.
    :param step_timeout_s: seconds the envs may take for one step or reset (all envs of a vector env
        together) before training stops with an error naming the env (the checkpoint and the best
        model are kept); training and evaluation envs alike. The default, ``DEFAULT_STEP_TIMEOUT_S``
        (600 s), only ends runs whose env hangs; None waits forever. Envs stepped in this process
        (the dev runner, native vector envs, evaluation) are interrupted by SIGALRM, which works
        only in the main thread and not in C code that never returns to Python; env worker
        processes (the local runner) are stopped whatever they do.
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
        step_timeout_s: float | None = DEFAULT_STEP_TIMEOUT_S,
    ):
        check_integer_options(
            ("n_envs", n_envs, 1),
            ("n_eval_envs", n_eval_envs, 1),
            ("eval_episodes", eval_episodes, 0),
            ("torch_threads", torch_threads, 1),
        )
        check_machine_bounds(n_envs, n_eval_envs, torch_threads)
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
        from maze_core.env.faults import checked_step_timeout

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

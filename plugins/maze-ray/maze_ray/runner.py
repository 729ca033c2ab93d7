"""The ``ray`` runner: rollout workers as Ray actors, the learner in this process.

Ray is imported only when a run starts, so listing plugins or using another runner never loads it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os

from maze_core.env.vector import SequentialVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.runners import Runner, check_integer_options


class RayRunner(Runner):
    """Steps the training envs in Ray actors, on this machine or across a Ray cluster.

    Each of the ``n_workers`` workers owns ``envs_per_worker`` envs and a CPU copy of the model; one
    call to a worker collects a whole rollout, with the weights of the latest update. The learner
    (and the evaluation, in this process) may use the GPU (``algorithm.device=cuda``).

    :param address: None starts a private Ray instance on this machine for the run (shut down after
        it); otherwise the address of a running cluster, e.g. ``"auto"`` (the cluster this machine
        joined with ``ray start``) or ``"ray://host:10001"``. A driver already connected
        (``ray.init`` called before the run) is used as it is.
    :param n_workers: rollout workers (Ray actors, one process each).
    :param envs_per_worker: envs stepped one after the other by each worker; the rollout of one
        update covers ``n_workers * envs_per_worker`` envs.
    :param num_cpus_per_worker: CPUs Ray reserves for each worker (fractions such as 0.5 allowed).
    :param max_worker_restarts: how many workers may be replaced during the run (after dying, losing
        their node or timing out) before the run stops with an error.
    :param rollout_timeout_s: a worker that does not return a rollout (or, when new, get ready)
        within this many seconds is treated as dead.
    :param prefetch: let the workers collect the next rollout while the learner updates on this
        one, so that they act with weights one update old. Faster when the learner's update costs
        real time (a large model, several PPO passes); rollouts keep the behaviour policy's
        log-probs and values, so PPO's ratio stays correct, while A2C becomes slightly off-policy.
        Off by default: every rollout then comes from the current weights, as on the dev runner.
    :param eval_on_workers: run the default evaluation (``eval_episodes`` on ``n_eval_envs`` envs)
        on the workers, each on evaluation envs of its own, instead of in this process: for envs
        whose episodes cost real time. An algorithm's own ``rollout_evaluator`` runs where it is.
    """

    machine_options = ("address",)  # a run directory never says where to connect

    def __init__(
        self,
        address: str | None = None,
        n_workers: int = 2,
        envs_per_worker: int = 2,
        num_cpus_per_worker: float = 1.0,
        max_worker_restarts: int = 3,
        rollout_timeout_s: float = 300.0,
        prefetch: bool = False,
        eval_on_workers: bool = False,
        **kwargs,
    ):
        if "n_envs" in kwargs:
            raise ConfigurationError(
                "runner.n_envs: the ray runner trains on n_workers x envs_per_worker envs; set "
                "runner.n_workers and runner.envs_per_worker instead"
            )
        check_integer_options(
            ("n_workers", n_workers, 1),
            ("envs_per_worker", envs_per_worker, 1),
            ("max_worker_restarts", max_worker_restarts, 0),
        )
        for name, value in (
            ("num_cpus_per_worker", num_cpus_per_worker),
            ("rollout_timeout_s", rollout_timeout_s),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigurationError(f"runner.{name}={value!r} is invalid: it must be a number > 0")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigurationError(
                f"runner.address={address!r} is invalid: give a Ray address such as 'auto' or "
                "'ray://host:10001', or None for a private Ray instance"
            )
        self.address = address
        self.n_workers = n_workers
        self.envs_per_worker = envs_per_worker
        self.num_cpus_per_worker = float(num_cpus_per_worker)
        self.max_worker_restarts = max_worker_restarts
        self.rollout_timeout_s = float(rollout_timeout_s)
        for name, value in (("prefetch", prefetch), ("eval_on_workers", eval_on_workers)):
            if not isinstance(value, bool):
                raise ConfigurationError(f"runner.{name}={value!r} is invalid: it must be true or false")
        self.prefetch = prefetch
        self.eval_on_workers = eval_on_workers
        super().__init__(n_envs=n_workers * envs_per_worker, **kwargs)
        for name in ("normalize_observations", "normalize_rewards"):
            if getattr(self, name):
                raise ConfigurationError(
                    f"runner.{name}: the ray runner does not normalize yet (each worker would keep "
                    "statistics of its own); use the dev or local runner, or normalize in an env wrapper"
                )
        self._started_ray = False
        self._collector = None
        self._model = None

    @property
    def n_envs(self) -> int:
        """Training envs: ``n_workers * envs_per_worker``."""
        return self.n_workers * self.envs_per_worker

    @n_envs.setter
    def n_envs(self, value: int) -> None:
        if value != self.n_envs:
            raise ConfigurationError(
                "runner.n_envs: the ray runner trains on n_workers x envs_per_worker envs; set "
                "runner.n_workers and runner.envs_per_worker instead"
            )

    @property
    def workers(self) -> list:
        """The Ray actor handles of the current rollout workers (empty before training starts)."""
        if self._collector is None:
            return []
        return [worker for worker in self._collector.workers if worker is not None]

    def make_vector_env(self, env_factories, logging_prefix: str):
        """The evaluation envs: in this process, next to the learner."""
        return SequentialVectorEnv(
            env_factories, logging_prefix=logging_prefix, step_timeout_s=self.step_timeout_s
        )

    def make_collector(self, env_factory, device, seed: int | None, gamma: float = 0.99, model=None):
        from maze_ray.collector import RayCollector

        self._connect()
        self._model = model
        self._collector = RayCollector(
            env_factory,
            model,
            seed,
            n_workers=self.n_workers,
            envs_per_worker=self.envs_per_worker,
            num_cpus_per_worker=self.num_cpus_per_worker,
            max_worker_restarts=self.max_worker_restarts,
            rollout_timeout_s=self.rollout_timeout_s,
            prefetch=self.prefetch,
            step_timeout_s=self.step_timeout_s,
            native_vector_env=self.native_vector_env,
        )
        return self._collector

    def make_evaluator(self, env_factory, collector):
        """The default evaluator: in this process, or on the workers with ``eval_on_workers``."""
        if not self.eval_on_workers:
            return super().make_evaluator(env_factory, collector)
        from maze_ray.collector import WorkerEvaluator

        n_envs = min(self.n_eval_envs, self.eval_episodes)
        return WorkerEvaluator(collector, self._model, n_envs=n_envs, n_episodes=self.eval_episodes)

    def _connect(self) -> None:
        """Connect this process to Ray: a private instance, or the cluster at ``address``."""
        import ray

        if ray.is_initialized():
            return
        options = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is None:
            # no usage statistics from a private instance unless the user opted in
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            with _quiet_logger("ray._private.authentication.authentication_token_setup"):
                # Ray turns token authentication on for a new local instance and says so at
                # WARNING level: right for a private instance, and not the user's concern
                ray.init(
                    address="local",
                    num_cpus=max(1, math.ceil(self.n_workers * self.num_cpus_per_worker)),
                    include_dashboard=False,
                    **options,
                )
        else:
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise ConfigurationError(
                    f"runner.address={self.address!r}: cannot connect to a Ray cluster ({reason}). Start "
                    "one with `ray start --head` (and `ray start --address=...` on the other machines), "
                    "or leave runner.address unset for a private Ray instance on this machine."
                ) from error
        self._started_ray = True

    def settings(self) -> dict:
        return {
            **super().settings(),
            "address": self.address,
            "n_workers": self.n_workers,
            "envs_per_worker": self.envs_per_worker,
            "num_cpus_per_worker": self.num_cpus_per_worker,
            "max_worker_restarts": self.max_worker_restarts,
            "rollout_timeout_s": self.rollout_timeout_s,
            "prefetch": self.prefetch,
            "eval_on_workers": self.eval_on_workers,
        }

    def close(self) -> None:
        """Stop the workers, and the Ray instance if this runner started it."""
        try:
            super().close()
        finally:
            self._collector = self._model = None
            if self._started_ray:
                import ray

                self._started_ray = False
                ray.shutdown()


@contextlib.contextmanager
def _quiet_logger(name: str):
    """Drop the messages of logger ``name`` below ERROR while the block runs."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)

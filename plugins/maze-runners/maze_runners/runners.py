"""The ``dev`` and ``local`` runners: in-process and one-subprocess-per-env training."""

from __future__ import annotations

import os
import warnings

from maze_core.env.vector import SequentialVectorEnv, SubprocVectorEnv
from maze_core.errors import ConfigurationError, MazeWarning
from maze_core.runners import Runner


class DevRunner(Runner):
    """Steps all envs in the training process: simplest to debug, fastest for cheap envs.

    Its ``step_timeout_s`` (600 s by default) interrupts an env with SIGALRM, which works in the main
    thread for Python code and blocking calls, but not in other threads nor for C code that never
    returns to Python: use the local runner for envs that may hang there.
    """

    def make_vector_env(self, env_factories, logging_prefix: str):
        return SequentialVectorEnv(
            env_factories, logging_prefix=logging_prefix, step_timeout_s=self.step_timeout_s
        )


class LocalRunner(Runner):
    """Steps the envs in worker processes: for envs whose step costs real CPU time.

    :param start_method: multiprocessing start method (default: forkserver where available).
    :param n_workers: worker processes per vector env; None gives each env its own worker (a native
        vector env: one worker per core, at most one per shard). With fewer workers than envs, each
        worker steps a contiguous group of envs (one after the other; a native vector env's group as
        whole shards), which costs one message per worker instead of one per env (use about one
        worker per core).
    :param n_shards: a native vector env's envs form this many native batches ("shards"), each
        with its own seed, that the workers share out; None: one per env up to 8
        (:func:`~maze_core.env.native_workers.default_n_shards`). The run depends on the shards,
        never on ``n_workers`` or the core count; more shards than workers cost one native call each.
    """

    def __init__(
        self,
        n_envs: int = 4,
        start_method: str | None = None,
        n_workers: int | None = None,
        n_shards: int | None = None,
        **kwargs,
    ):
        super().__init__(n_envs=n_envs, **kwargs)
        for name, value, none_means in (
            ("n_workers", n_workers, "one worker per env"),
            ("n_shards", n_shards, "the default shards"),
        ):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigurationError(
                    f"runner.{name}={value!r} is invalid: it must be an integer >= 1, or None for "
                    f"{none_means}"
                )
        self.start_method = start_method
        self.n_workers = n_workers
        self.n_shards = n_shards

    @property
    def n_processes(self) -> int:
        """The worker processes of the training and the evaluation envs together."""
        n_eval = min(self.n_eval_envs, self.eval_episodes)
        return min(self.n_workers or self.n_envs, self.n_envs) + min(self.n_workers or n_eval, n_eval)

    def make_vector_env(self, env_factories, logging_prefix: str):
        if logging_prefix == "train":
            self._warn_if_oversubscribed(min(self.n_workers or len(env_factories), len(env_factories)))
        return SubprocVectorEnv(
            env_factories,
            logging_prefix=logging_prefix,
            start_method=self.start_method,
            n_workers=self.n_workers,
            step_timeout_s=self.step_timeout_s,
        )

    def _warn_if_oversubscribed(self, n_training: int) -> None:
        """Warn, before any worker starts, when one env per worker would mean more workers than cores
        (a native vector env needs no warning: it defaults to one worker per core)."""
        cores = os.cpu_count() or 1
        if n_training > cores:
            warnings.warn(
                f"the local runner will step its envs in {n_training} worker processes on {cores} CPU "
                f"cores ({self.n_processes} with the evaluation envs, each a Python interpreter with its "
                f"envs); set runner.n_workers={cores} to step several envs per worker",
                MazeWarning,
                stacklevel=2,
            )

    def make_native_vector_env(self, vector_env_factory, n_envs: int, logging_prefix: str | None):
        """A native vector env in worker processes: its envs in shards that depend on ``n_envs`` and
        ``n_shards`` only, stepped by ``n_workers`` workers (default: one per core, at most one
        per shard), so the run does not depend on the machine's core count."""
        from maze_core.env.native import NativeVectorEnv
        from maze_core.env.native_workers import WorkerVectorEnv, default_n_shards

        n_shards = min(self.n_shards, n_envs) if self.n_shards else default_n_shards(n_envs)
        workers = WorkerVectorEnv(
            vector_env_factory.make,
            n_envs,
            n_workers=self.n_workers or min(n_shards, os.cpu_count() or 1),
            start_method=self.start_method,
            step_timeout_s=self.step_timeout_s,
            n_shards=n_shards,
        )
        return NativeVectorEnv(workers, logging_prefix=logging_prefix)

    def settings(self) -> dict:
        return {
            **super().settings(),
            "start_method": self.start_method,
            "n_workers": self.n_workers,
            "n_shards": self.n_shards,
        }

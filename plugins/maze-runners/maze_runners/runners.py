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
        vector env: one worker per core). With fewer workers than envs, each worker steps a
        contiguous group of envs (one after the other; a native vector env's group as one batch),
        which costs one message per worker instead of one per env (use about one worker per core).
    """

    def __init__(
        self, n_envs: int = 4, start_method: str | None = None, n_workers: int | None = None, **kwargs
    ):
        super().__init__(n_envs=n_envs, **kwargs)
        if n_workers is not None and (
            not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1
        ):
            raise ConfigurationError(
                f"runner.n_workers={n_workers!r} is invalid: it must be an integer >= 1, or None for "
                "one worker per env"
            )
        self.start_method = start_method
        self.n_workers = n_workers

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
        """A native vector env in worker processes: ``n_workers`` of them (default: one per core,
        at most one per env), each stepping its group of envs as one batch."""
        from maze_core.env.native import NativeVectorEnv
        from maze_core.env.native_workers import WorkerVectorEnv

        n_workers = self.n_workers or min(n_envs, os.cpu_count() or 1)
        workers = WorkerVectorEnv(
            vector_env_factory.make,
            n_envs,
            n_workers=n_workers,
            start_method=self.start_method,
            step_timeout_s=self.step_timeout_s,
        )
        return NativeVectorEnv(workers, logging_prefix=logging_prefix)

    def settings(self) -> dict:
        return {**super().settings(), "start_method": self.start_method, "n_workers": self.n_workers}

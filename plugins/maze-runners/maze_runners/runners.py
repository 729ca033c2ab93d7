"""The ``dev`` and ``local`` runners: in-process and one-subprocess-per-env training."""

from __future__ import annotations

from maze_core.env.vector import SequentialVectorEnv, SubprocVectorEnv
from maze_core.runners import Runner


class DevRunner(Runner):
    """Steps all envs in the training process: simplest to debug, fastest for cheap envs."""

    def make_vector_env(self, env_factories, logging_prefix: str):
        return SequentialVectorEnv(env_factories, logging_prefix=logging_prefix)


class LocalRunner(Runner):
    """Steps each env in its own worker process: for envs whose step costs real CPU time.

    :param start_method: multiprocessing start method (default: forkserver where available).
    """

    def __init__(self, n_envs: int = 4, start_method: str | None = None, **kwargs):
        super().__init__(n_envs=n_envs, **kwargs)
        self.start_method = start_method

    def make_vector_env(self, env_factories, logging_prefix: str):
        return SubprocVectorEnv(env_factories, logging_prefix=logging_prefix, start_method=self.start_method)

    def settings(self) -> dict:
        return {**super().settings(), "start_method": self.start_method}

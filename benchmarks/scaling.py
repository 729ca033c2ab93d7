"""B4: how the local runner scales on an env whose step costs about 1 ms of CPU time.

Both runners train A2C with the tutorial's values (100-step rollouts, default [256, 256]
networks) except 5 updates per epoch (to keep the untimed warm-up epoch short), without
evaluation. The local runner steps the envs in 2 worker processes, the dev runner in the training
process. On a machine with 2 cores the best possible speed-up is a little under 2: the training
process computes actions and updates while the workers wait.
"""

from __future__ import annotations

from benchmarks.busy_env import make_busy_cartpole
from benchmarks.common import Stopwatch

EPOCH_LENGTH = 5


def run(runner: str, n_envs: int, steps: int, seed: int = 0, n_workers: int | None = None) -> Stopwatch:
    from maze_a2c import A2CAlgorithmConfig

    from benchmarks.throughput import _timed_maze_run

    overrides = {"runner.n_envs": n_envs}
    if n_workers is not None:
        overrides["runner.n_workers"] = n_workers
    config = A2CAlgorithmConfig(patience=0, epoch_length=EPOCH_LENGTH)
    return _timed_maze_run(make_busy_cartpole, config, runner, overrides, steps, seed)

"""Per-step overhead of SequentialVectorEnv against gymnasium's SyncVectorEnv and a plain loop.

    .venv/bin/python benchmarks/vector_env_overhead.py [--envs 8] [--steps 20000]

All three step the same gymnasium CartPole-v1 envs with the same random actions and reset finished
episodes in the same step; the best of three runs is reported.
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

from maze_core.env import GymMazeEnv, SequentialVectorEnv


def plain_loop(n_envs: int, actions: np.ndarray) -> float:
    envs = [gymnasium.make("CartPole-v1") for _ in range(n_envs)]
    for index, env in enumerate(envs):
        env.reset(seed=index)
    start = time.perf_counter()
    for row in actions:
        for env, action in zip(envs, row, strict=True):
            _, _, terminated, truncated, _ = env.step(int(action))
            if terminated or truncated:
                env.reset()
    return time.perf_counter() - start


def gymnasium_sync(n_envs: int, actions: np.ndarray) -> float:
    envs = gymnasium.vector.SyncVectorEnv(
        [lambda: gymnasium.make("CartPole-v1")] * n_envs,
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP,
    )
    envs.reset(seed=0)
    start = time.perf_counter()
    for row in actions:
        envs.step(row)
    return time.perf_counter() - start


def maze_sequential(n_envs: int, actions: np.ndarray) -> float:
    envs = SequentialVectorEnv([lambda: GymMazeEnv("CartPole-v1")] * n_envs)
    envs.reset(seed=0)
    start = time.perf_counter()
    for row in actions:
        envs.step({"action": row})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    actions = np.random.default_rng(0).integers(0, 2, size=(args.steps, args.envs))
    for name, run in [
        ("plain loop over gymnasium envs", plain_loop),
        ("gymnasium SyncVectorEnv", gymnasium_sync),
        ("maze SequentialVectorEnv", maze_sequential),
    ]:
        seconds = min(run(args.envs, actions) for _ in range(3))
        per_step = seconds / args.steps
        print(f"{name:32s} {1 / per_step:8.0f} vector steps/s  {per_step * 1e6:6.1f} us/step")


if __name__ == "__main__":
    main()

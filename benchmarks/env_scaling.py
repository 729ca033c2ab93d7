"""B8: A2C throughput as the number of envs grows (8, 64, 256), and where an update's time goes.

Contenders, all with B1's settings (CartPole-v1, A2C, 5-step rollouts, 64x64 tanh nets, one torch
thread) except ``n_envs``:

* ours on the per-env path (the dev runner with ``native_vector_env=False``: one ``GymMazeEnv``
  per env in a ``SequentialVectorEnv``),
* ours on the native path (the dev runner's default for CartPole-v1: gymnasium's numpy-vectorized
  ``CartPoleVectorEnv`` stepped as one batch),
* Stable-Baselines3's A2C (its ``DummyVecEnv``, one torch thread),
* the minimal hand-written loop of ``benchmarks/minimal_a2c.py`` (gymnasium's ``SyncVectorEnv``),
* in steady state only, the hand-written floor of the native path (``benchmarks/native_floor.py``).

*Steady state* times training after a warm-up (as B1); *end to end* times a fresh Python process
that imports everything, builds the envs and the model and trains the same number of env steps.
:func:`profile_update` splits the time of the native path at 256 envs into its parts.

B9 at scale (:func:`ppo_steady_state`): PPO with B9's settings at the same sizes, ours on both paths
against Stable-Baselines3's PPO (one torch thread), steady state.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections import defaultdict

from benchmarks.common import ROOT, Stopwatch, scratch_dir
from benchmarks.throughput import B1, B1_EPOCH_LENGTH, _default_nets, _timed_maze_run, b1_config, sb3_model

N_ENVS = (8, 64, 256)
CONTENDERS = ("maze_per_env", "maze_native", "sb3", "minimal")
#: steady state only: the floor has no end-to-end run
STEADY_CONTENDERS = (*CONTENDERS, "native_floor")
PPO_CONTENDERS = ("maze_per_env", "maze_native", "sb3")


def _overrides(n_envs: int, native: bool) -> dict:
    return {
        "runner.n_envs": n_envs,
        "runner.native_vector_env": native,
        **_default_nets(B1["hidden_units"]),
    }


def _run_context(run_dir, n_envs: int, native: bool):
    """Ours with B1's settings at ``n_envs`` envs, without evaluation, seed 0."""
    from maze_core import RunContext

    overrides = {"runner.eval_episodes": 0, **_overrides(n_envs, native)}
    return RunContext(
        env=B1["env"],
        algorithm=b1_config(),
        runner="dev",
        seed=0,
        silent=True,
        run_dir=run_dir,
        overrides=overrides,
    )


def maze(n_envs: int, native: bool, steps: int, seed: int = 0) -> Stopwatch:
    """Ours on the dev runner, steady state (one epoch of warm-up, then whole epochs)."""
    return _timed_maze_run(B1["env"], b1_config(), "dev", _overrides(n_envs, native), steps, seed)


def sb3(n_envs: int, steps: int, seed: int = 0) -> Stopwatch:
    from benchmarks.throughput import sb3_a2c

    return sb3_a2c(steps, seed=seed, threads=1, n_envs=n_envs)


def minimal(n_envs: int, steps: int, seed: int = 0) -> Stopwatch:
    from benchmarks.throughput import minimal_a2c

    return minimal_a2c(steps, seed=seed, n_envs=n_envs)


def gym_loop(n_envs: int, steps: int, seed: int = 0) -> Stopwatch:
    """The bound of every per-env path: ``n_envs`` ``gymnasium.make`` envs (wrappers included)
    stepped one after the other with random actions and reset when done, nothing else."""
    import gymnasium
    import numpy as np

    envs = [gymnasium.make(B1["env"]) for _ in range(n_envs)]
    for index, env in enumerate(envs):
        env.reset(seed=seed * n_envs + index)
    actions = np.random.default_rng(seed).integers(0, 2, size=(64, n_envs)).tolist()
    n_vector_steps = steps // n_envs
    with Stopwatch(n_vector_steps * n_envs) as watch:
        for step in range(n_vector_steps):
            for env, action in zip(envs, actions[step % 64], strict=True):
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
    return watch


def steady_state(contender: str, n_envs: int, steps: int, seed: int = 0) -> Stopwatch:
    if contender == "maze_per_env":
        return maze(n_envs, False, steps, seed)
    if contender == "maze_native":
        return maze(n_envs, True, steps, seed)
    if contender == "sb3":
        return sb3(n_envs, steps, seed)
    if contender == "minimal":
        return minimal(n_envs, steps, seed)
    if contender == "gym_loop":
        return gym_loop(n_envs, steps, seed)
    if contender == "native_floor":
        from benchmarks.native_floor import steady_state as floor

        return floor(n_envs, steps, seed)
    raise ValueError(f"unknown contender {contender!r}")


def ppo_steady_state(contender: str, n_envs: int, steps: int, seed: int = 0) -> Stopwatch:
    """B9 at ``n_envs`` envs: ours (per-env or native path) or Stable-Baselines3's PPO (one thread)."""
    from benchmarks.throughput import maze_ppo, sb3_ppo

    if contender == "maze_per_env":
        return maze_ppo(steps, seed, n_envs=n_envs, native=False)
    if contender == "maze_native":
        return maze_ppo(steps, seed, n_envs=n_envs, native=True)
    if contender == "sb3":
        return sb3_ppo(steps, seed, threads=1, n_envs=n_envs)
    raise ValueError(f"unknown contender {contender!r}")


def _train_from_scratch(contender: str, n_envs: int, steps: int) -> None:
    """What the end-to-end process does: build everything and train ``steps`` env steps."""
    if contender.startswith("maze"):
        updates_per_epoch = B1_EPOCH_LENGTH * B1["n_rollout_steps"] * n_envs
        n_epochs = max(1, round(steps / updates_per_epoch))
        with scratch_dir() as run_dir:
            rc = _run_context(run_dir, n_envs, native=contender == "maze_native")
            rc.train(n_epochs=n_epochs)
            rc.close()
    elif contender == "sb3":
        import torch

        torch.set_num_threads(1)
        model = sb3_model(n_envs, seed=0)
        model.learn(steps)
    elif contender == "minimal":
        import torch

        from benchmarks.minimal_a2c import MinimalA2C

        torch.set_num_threads(1)
        MinimalA2C(env_id=B1["env"], n_envs=n_envs, n_steps=B1["n_rollout_steps"], seed=0).learn(steps)
    else:
        raise ValueError(f"unknown contender {contender!r}")


def end_to_end(contender: str, n_envs: int, steps: int) -> Stopwatch:
    """Wall time of a fresh ``python -m benchmarks.env_scaling`` process (imports included)."""
    command = [sys.executable, "-m", "benchmarks.env_scaling", contender, str(n_envs), str(steps)]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Stopwatch(steps) as watch:
        subprocess.run(command, cwd=ROOT, check=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the CPU time is the child's (user + system), not this process's
    watch.cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    return watch


class _Timer:
    """Accumulates the CPU time of this thread spent in calls to one function (wrapped in place):
    CPU time, not wall time, so that other processes on a shared machine do not inflate the parts."""

    def __init__(self, totals: dict, name: str, function):
        self.totals, self.name, self.function = totals, name, function

    def __call__(self, *args, **kwargs):
        start = time.thread_time()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.totals[self.name] += time.thread_time() - start


def profile_update(n_envs: int = 256, updates: int = 2_000) -> dict:
    """Where the time of one update (a 5-step rollout on ``n_envs`` envs plus the gradient step)
    goes on the native path: per part, milliseconds of CPU time per update (parts nest as listed)."""
    import torch

    from maze_core.training import rollout as rollout_module

    torch.set_num_threads(1)
    totals: dict[str, float] = defaultdict(float)
    with scratch_dir() as run_dir:
        rc = _run_context(run_dir, n_envs, native=True)
        rc.train(n_epochs=1)  # warm-up, and builds the trainer
        trainer = rc._trainer
        collector, env = trainer.collector, trainer.collector.env
        policy = trainer.model.policy
        wrapped = [
            (collector, "collect", "rollout (collector.collect)"),
            (env, "step", "  env step, Maze adapter included (NativeVectorEnv.step)"),
            (env.env, "step", "    gymnasium CartPoleVectorEnv.step"),
            (policy, "sample_action", "  policy forward + sampling (sample_action)"),
            (rollout_module, "_critic_values", "  critic values (bootstrap; the rollout's own if needed)"),
            (trainer, "update", "update (A2C.update)"),
            (trainer, "evaluate_actions", "  forward of actor and critic on the rollout"),
            (trainer, "advantages_and_returns", "  GAE"),
            (trainer, "gradient_step", "  backward, gradient norms, clipping, Adam"),
        ]
        for owner, attribute, name in wrapped:
            setattr(owner, attribute, _Timer(totals, name, getattr(owner, attribute)))
        config = trainer.config
        trainer.model.train()
        start, start_cpu = time.perf_counter(), time.thread_time()
        for _ in range(updates):
            rollout = trainer.collector.collect(
                trainer.model, config.n_rollout_steps, behaviour=trainer.needs_behaviour
            )
            trainer.update(rollout, False)
        wall, total = time.perf_counter() - start, time.thread_time() - start_cpu
        rc.close()
        for owner, attribute, _ in wrapped:  # the collector module is shared: unwrap it again
            setattr(owner, attribute, getattr(owner, attribute).function)
    parts = {name: totals[name] / updates * 1e3 for _, _, name in wrapped}
    parts["total per update (rollout + update)"] = total / updates * 1e3
    steps = updates * n_envs * B1["n_rollout_steps"]
    return {
        "n_envs": n_envs,
        "updates": updates,
        "env_steps_per_second": steps / wall,
        "env_steps_per_cpu_second": steps / total,
        "ms_per_update": parts,
    }


if __name__ == "__main__":
    _train_from_scratch(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

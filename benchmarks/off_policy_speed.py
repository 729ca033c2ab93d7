"""B10: off-policy speed, ours against Stable-Baselines3, one torch thread, in one process.

* SAC env steps per second with one gradient step per env step, steady state: Pendulum-v1, one
  env on both sides, batch 256, 256x256 networks (actor and twin critics), Stable-Baselines3's SAC
  defaults with lr 1e-3 (the zoo's Pendulum settings, L2's ``SAC_ZOO``); an untimed warm-up of
  ``SAC_WARMUP_STEPS`` env steps (construction, the first ``learning_starts`` steps without
  updates, first-use initialisation), then ``steps`` timed env steps. No evaluation.
* DQN: the wall time of the zoo's whole CartPole-v1 run (L2's ``DQN_ZOO``: 51,200 env steps on one
  env, 128 gradient steps every 256 env steps), from construction to the end of training, without
  evaluation, after an untimed short run of each (imports, first-use initialisation).
* Where the time goes: per env step, collection against updates for both libraries (timers around
  the library's own methods, wrapped on the instance: no library code changes), and the parts of
  our SAC update, timed in a replica of ``maze_sac.trainer.SAC.update`` made of the trainer's own
  calls (checked against the real update's time), and torch.profiler's costliest operators.

    .venv/bin/python -m benchmarks.run --only B10 [--repetitions 3] [--json b10.json]
    .venv/bin/python -m benchmarks.off_policy_speed profile     # the profile alone
"""

from __future__ import annotations

import collections
import contextlib
import math
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import Stopwatch, scratch_dir, torch_threads
from benchmarks.learning_off_policy import DQN_ZOO, SAC_ZOO

SAC_WARMUP_STEPS = 1_000
DQN_STEPS = 51_200


# --- SAC, steady state --------------------------------------------------------------------------


def _maze_sac_config(epoch_steps: int):
    from maze_sac import SACAlgorithmConfig

    settings = {k: v for k, v in SAC_ZOO.items() if k not in ("n_envs", "hidden_units")}
    return SACAlgorithmConfig(patience=0, n_epochs=1, epoch_length=epoch_steps, **settings)


@contextlib.contextmanager
def maze_sac(seed: int = 0, epoch_steps: int = SAC_WARMUP_STEPS):
    """A warmed-up SAC run of ours on Pendulum-v1 (one env, dev runner, no evaluation); yields the
    RunContext, whose ``train(n_epochs=k)`` makes ``k * epoch_steps`` more env steps."""
    from maze_core import RunContext

    with scratch_dir() as directory:
        rc = RunContext(
            env="Pendulum-v1",
            algorithm=_maze_sac_config(epoch_steps),
            runner="dev",
            seed=seed,
            silent=True,
            run_dir=directory / "run",
            overrides={"runner.n_envs": 1, "runner.eval_episodes": 0},
        )
        try:
            rc.train(n_epochs=1)  # warm-up: SAC_WARMUP_STEPS env steps
            yield rc
        finally:
            rc.close()


def maze_sac_steady(steps: int, seed: int = 0) -> Stopwatch:
    """Ours: ``steps`` env steps (and as many gradient steps) after the warm-up, in whole epochs
    (each ends with statistics, logs and a checkpoint, as part of the timed work)."""
    epoch_steps = min(steps, SAC_WARMUP_STEPS)
    n_epochs = math.ceil(steps / epoch_steps)
    with maze_sac(seed, epoch_steps) as rc, Stopwatch(n_epochs * epoch_steps) as watch:
        rc.train(n_epochs=n_epochs)
    return watch


def sb3_sac(seed: int = 0):
    from benchmarks.learning_off_policy import sb3_model

    return sb3_model("sac/Pendulum-v1", seed)


def sb3_sac_steady(steps: int, seed: int = 0) -> Stopwatch:
    """Stable-Baselines3's SAC with the same settings, one torch thread; same warm-up."""
    with torch_threads(1):
        model = sb3_sac(seed)
        model.learn(SAC_WARMUP_STEPS)
        before = model.num_timesteps
        with Stopwatch() as watch:
            model.learn(steps, reset_num_timesteps=False)
        watch.steps = model.num_timesteps - before
        model.get_env().close()
    return watch


# --- DQN, the zoo's whole run -------------------------------------------------------------------


def _maze_dqn_rc(directory, steps: int, seed: int, defaults: bool = False, native: bool = True):
    from maze_dqn import DQNAlgorithmConfig

    from maze_core import RunContext

    if defaults:  # the config's defaults: 4 envs x train_freq 64, double-DQN
        n_envs, config = 4, DQNAlgorithmConfig(patience=0)
    else:
        n_envs = 1
        settings = {k: v for k, v in DQN_ZOO.items() if k not in ("n_envs", "hidden_units")}
        config = DQNAlgorithmConfig(patience=0, **settings)
    per_epoch = steps // 10 if steps >= 10 * 256 else steps
    epoch_length = per_epoch // (config.train_freq * n_envs)
    n_epochs = steps // (epoch_length * config.train_freq * n_envs)
    config = DQNAlgorithmConfig(**{**config.to_dict(), "n_epochs": n_epochs, "epoch_length": epoch_length})
    return RunContext(
        env="CartPole-v1",
        algorithm=config,
        runner="dev",
        seed=seed,
        silent=True,
        run_dir=directory / "run",
        overrides={"runner.n_envs": n_envs, "runner.eval_episodes": 0, "runner.native_vector_env": native},
    ), n_epochs * epoch_length * config.train_freq * n_envs


def maze_dqn_run(steps: int = DQN_STEPS, seed: int = 0, defaults: bool = False) -> Stopwatch:
    """Ours: the whole run, from building the RunContext to the end of training."""
    with scratch_dir() as directory:
        with Stopwatch() as watch:
            rc, watch.steps = _maze_dqn_rc(directory, steps, seed, defaults)
            try:
                rc.train()
            finally:
                rc.close()
    return watch


def sb3_dqn_run(steps: int = DQN_STEPS, seed: int = 0) -> Stopwatch:
    """Stable-Baselines3's DQN with the zoo's settings, one torch thread: construction and learn."""
    from benchmarks.learning_off_policy import sb3_model

    with torch_threads(1), Stopwatch(steps) as watch:
        model = sb3_model("dqn/CartPole-v1", seed)
        model.learn(steps)
        watch.steps = model.num_timesteps
        model.get_env().close()
    return watch


def warm_up_dqn() -> None:
    """Imports and first-use initialisation of both, untimed (2,560 env steps each)."""
    maze_dqn_run(2_560, seed=1000)
    sb3_dqn_run(2_560, seed=1000)


# --- where the time goes ------------------------------------------------------------------------


class Timers:
    """Thread CPU time and wall time per named part, accumulated over calls."""

    def __init__(self):
        self.wall = collections.defaultdict(float)
        self.cpu = collections.defaultdict(float)
        self.calls = collections.Counter()

    @contextlib.contextmanager
    def __call__(self, name: str):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.cpu[name] += time.thread_time() - cpu
            self.wall[name] += time.perf_counter() - wall
            self.calls[name] += 1

    def wrap(self, owner, attribute: str, name: str) -> None:
        """Time every call of ``owner.attribute`` (set on the instance, so the library is unchanged)."""
        method = getattr(owner, attribute)

        def timed(*args, **kwargs):
            with self(name):
                return method(*args, **kwargs)

        setattr(owner, attribute, timed)

    def per(self, count: int, clock: str = "cpu") -> dict[str, float]:
        """Milliseconds per ``count`` (e.g. per env step) of each part."""
        values = self.cpu if clock == "cpu" else self.wall
        return {name: 1e3 * value / count for name, value in values.items()}


def collect_vs_update(steps: int = 1_000, seed: int = 0) -> dict:
    """Per env step (= per gradient step), after the warm-up: ours' collection, buffer writes and
    updates (and the epoch's end) against Stable-Baselines3's ``collect_rollouts`` and ``train``."""
    result = {}
    # ours
    with maze_sac(seed, epoch_steps=steps) as rc:
        trainer, timers = rc._trainer, Timers()
        timers.wrap(trainer.collector, "collect", "collect (policy, env step)")
        timers.wrap(trainer.replay, "add", "replay buffer add")
        timers.wrap(trainer.replay, "sample", "replay buffer sample")
        timers.wrap(trainer, "update", "SAC update (sampling excluded)")
        timers.wrap(trainer, "save_checkpoint", "checkpoint at the epoch's end")
        with Stopwatch(steps) as watch:
            rc.train(n_epochs=1)
        timers.cpu["total"], timers.wall["total"] = watch.cpu, watch.wall
        result["maze"] = {"cpu": timers.per(steps), "wall": timers.per(steps, "wall")}
    # Stable-Baselines3
    with torch_threads(1):
        model = sb3_sac(seed)
        model.learn(SAC_WARMUP_STEPS)
        timers = Timers()
        timers.wrap(model, "collect_rollouts", "collect (policy, env step, buffer add)")
        timers.wrap(model.replay_buffer, "sample", "replay buffer sample")
        timers.wrap(model, "train", "SAC update (sampling included)")
        with Stopwatch(steps) as watch:
            model.learn(steps, reset_num_timesteps=False)
        timers.cpu["total"], timers.wall["total"] = watch.cpu, watch.wall
        result["sb3"] = {"cpu": timers.per(steps), "wall": timers.per(steps, "wall")}
        model.get_env().close()
    return result


def dqn_collect_vs_update(steps: int = 10_240, seed: int = 0) -> dict:
    """The zoo's DQN run (first ``steps`` env steps, updates from learning_starts on), per round of
    256 env steps and 128 gradient steps: ours' collection, buffer writes, sampling and updates
    against Stable-Baselines3's ``collect_rollouts`` and ``train``."""
    result = {}
    rounds = steps // DQN_ZOO["train_freq"]
    with scratch_dir() as directory:
        rc, _ = _maze_dqn_rc(directory, steps, seed)
        try:
            rc._build()  # the trainer exists from here on; train() uses it
            trainer, timers = rc._trainer, Timers()
            timers.wrap(trainer.collector, "collect", "collect (policy, env step)")
            timers.wrap(trainer.replay, "add", "replay buffer add")
            timers.wrap(trainer.replay, "sample", "replay buffer sample")
            timers.wrap(trainer, "update", "DQN update (sampling excluded)")
            timers.wrap(trainer, "save_checkpoint", "checkpoints at the epochs' ends")
            with Stopwatch(steps) as watch:
                rc.train()
            timers.cpu["total"], timers.wall["total"] = watch.cpu, watch.wall
            result["maze"] = {"cpu": timers.per(rounds), "wall": timers.per(rounds, "wall")}
        finally:
            rc.close()
    with torch_threads(1):
        from benchmarks.learning_off_policy import sb3_model

        model = sb3_model("dqn/CartPole-v1", seed)
        timers = Timers()
        timers.wrap(model, "collect_rollouts", "collect (policy, env step, buffer add)")
        timers.wrap(model.replay_buffer, "sample", "replay buffer sample")
        timers.wrap(model, "train", "DQN update (sampling included)")
        with Stopwatch(steps) as watch:
            model.learn(steps)
        timers.cpu["total"], timers.wall["total"] = watch.cpu, watch.wall
        result["sb3"] = {"cpu": timers.per(rounds), "wall": timers.per(rounds, "wall")}
        model.get_env().close()
    result["rounds"] = rounds
    freq = DQN_ZOO["train_freq"]
    result["rounds_with_updates"] = sum(
        1 for r in range(1, rounds + 1) if r * freq > DQN_ZOO["learning_starts"]
    )
    return result


def _top_operators(prof, n_calls: int, top: int) -> tuple[list[dict], float]:
    events = prof.key_averages()
    total_self = sum(e.self_cpu_time_total for e in events)
    operators = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {
            "name": e.key,
            "calls_per_update": e.count / n_calls,
            "self_ms_per_update": e.self_cpu_time_total / n_calls / 1e3,
            "share": e.self_cpu_time_total / total_self,
        }
        for e in operators
    ], sum(e.count for e in events) / n_calls


def profile_dqn(seed: int = 0, blocks: int = 5, top: int = 10) -> dict:
    """DQN's gradient step (batch 64, the zoo's settings) and one env step of collection, ours
    against Stable-Baselines3, after 1,280 env steps of the zoo's run (past learning_starts)."""
    import cProfile
    import pstats

    from torch.profiler import ProfilerActivity, profile

    result: dict = {}
    gradient_steps = DQN_ZOO["gradient_steps"]
    with scratch_dir() as directory:
        rc, _ = _maze_dqn_rc(directory, 12_800, seed)  # 10 epochs of 5 rounds; only the first runs
        try:
            rc.train(n_epochs=1)
            trainer = rc._trainer

            def round_of_updates() -> None:
                for _ in range(gradient_steps):
                    trainer.update(trainer.replay.sample(trainer.config.batch_size, trainer.device))
                    trainer.n_gradient_steps += 1

            times = []
            for _ in range(blocks):
                start = time.thread_time()
                round_of_updates()
                times.append((time.thread_time() - start) / gradient_steps)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                round_of_updates()
            operators, n_ops = _top_operators(prof, gradient_steps, top)
            # one collection of 256 env steps (the policy's Q forward, CartPole, the rollout)
            collect = lambda: trainer.collector.collect(  # noqa: E731
                trainer.model,
                DQN_ZOO["train_freq"],
                behaviour=False,
                keep_reset_rows=False,
                next_observations=True,
            )
            collect_times = []
            for _ in range(blocks):
                start = time.thread_time()
                collect()
                collect_times.append((time.thread_time() - start) / DQN_ZOO["train_freq"])
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(4):
                collect()
            profiler.disable()
            stats = pstats.Stats(profiler)
            hot = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
            result["maze"] = {
                "update_ms": 1e3 * sorted(times)[len(times) // 2],
                "operators": operators,
                "n_operator_calls_per_update": n_ops,
                "collect_ms_per_env_step": 1e3 * sorted(collect_times)[len(collect_times) // 2],
                "collect_hot_functions": [
                    {
                        "function": f"{Path(file).name}:{line} {name}",
                        "calls_per_env_step": calls[1] / (4 * DQN_ZOO["train_freq"]),
                        "self_us_per_env_step": 1e6 * calls[2] / (4 * DQN_ZOO["train_freq"]),
                    }
                    for (file, line, name), calls in hot
                ],
            }
        finally:
            rc.close()
    with torch_threads(1):
        from benchmarks.learning_off_policy import sb3_model

        model = sb3_model("dqn/CartPole-v1", seed)
        model.learn(1_280)
        times = []
        for _ in range(blocks):
            start = time.thread_time()
            model.train(gradient_steps=gradient_steps, batch_size=DQN_ZOO["batch_size"])
            times.append((time.thread_time() - start) / gradient_steps)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model.train(gradient_steps=gradient_steps, batch_size=DQN_ZOO["batch_size"])
        operators, n_ops = _top_operators(prof, gradient_steps, top)
        result["sb3"] = {
            "update_ms": 1e3 * sorted(times)[len(times) // 2],
            "operators": operators,
            "n_operator_calls_per_update": n_ops,
        }
        model.get_env().close()
    return result


def _fused_adams(trainer) -> None:
    """Replace the trainer's Adam optimizers by fused ones (same parameters, lr and state-free: they
    are swapped before the timed blocks; an experiment, not what the library does)."""
    for name, optimizer in list(trainer.optimizers.items()):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        trainer.optimizers[name] = torch.optim.Adam(params, lr=optimizer.param_groups[0]["lr"], fused=True)


def _optimize_without_norm(trainer):
    """``OffPolicyTrainer.optimize`` without the gradient norm (which it computes for the statistics
    even when nothing is clipped), bound to this trainer instance only (an experiment)."""

    def optimize(name: str, loss: torch.Tensor) -> float:
        optimizer = trainer.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return 0.0

    return optimize


def _median_update_ms(trainer, n: int, blocks: int = 5) -> float:
    batch_size = trainer.config.batch_size
    times = []
    for _ in range(blocks):
        start = time.thread_time()
        for _ in range(n):
            trainer.update(trainer.replay.sample(batch_size, trainer.device))
            trainer.n_gradient_steps += 1
        times.append((time.thread_time() - start) / n)
    return 1e3 * sorted(times)[len(times) // 2]


def experiments(seed: int = 0, quick: bool = False) -> dict:
    """What some changes would save, measured on warmed-up trainers of ours without changing library
    code: fused Adam, no gradient norm when nothing is clipped (SAC), and for DQN's collection on
    one env the per-env path instead of the native vector env."""
    n = 40 if quick else 100
    result: dict = {"sac": {}, "dqn": {}}
    with torch_threads(1):
        with maze_sac(seed) as rc:
            trainer = rc._trainer
            _median_update_ms(trainer, 20, 1)
            result["sac"]["as is"] = _median_update_ms(trainer, n)
            _fused_adams(trainer)
            result["sac"]["fused Adam"] = _median_update_ms(trainer, n)
            trainer.optimize = _optimize_without_norm(trainer)
            result["sac"]["fused Adam, no gradient norm"] = _median_update_ms(trainer, n)
        for native in (True, False):
            with scratch_dir() as directory:
                rc, _ = _maze_dqn_rc(directory, 12_800, seed, native=native)
                try:
                    rc.train(n_epochs=1)
                    trainer = rc._trainer
                    if native:
                        _median_update_ms(trainer, 20, 1)
                        result["dqn"]["update as is"] = _median_update_ms(trainer, 128)
                        _fused_adams(trainer)
                        result["dqn"]["update with fused Adam"] = _median_update_ms(trainer, 128)
                    times = []
                    for _ in range(5):
                        start = time.thread_time()
                        trainer.collector.collect(
                            trainer.model, 256, behaviour=False, keep_reset_rows=False, next_observations=True
                        )
                        times.append((time.thread_time() - start) / 256)
                    label = (
                        "native vector env (default)" if native else "per-env path (native_vector_env=False)"
                    )
                    result["dqn"][f"collect per env step, {label}"] = 1e3 * sorted(times)[2]
                finally:
                    rc.close()
    return result


def sac_update_parts(trainer, timers: Timers, batch_size: int) -> None:
    """One gradient step of ``maze_sac.trainer.SAC.update``, part by part, made of the trainer's
    own calls (the same operations in the same order; ``optimize`` unrolled into its steps)."""
    from maze_sac.trainer import _frozen

    config, critic = trainer.config, trainer.model.critic

    def optimize(name: str, loss: torch.Tensor, part: str) -> float:
        with timers(f"{part}: finite check"):
            ok = bool(torch.isfinite(loss))
        assert ok
        optimizer = trainer.optimizers[name]
        with timers(f"{part}: zero_grad + backward"):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with timers(f"{part}: gradient norm (clip_grad_norm_)"):
            parameters = [
                p for group in optimizer.param_groups for p in group["params"] if p.grad is not None
            ]
            norm = torch.nn.utils.clip_grad_norm_(
                parameters, config.max_grad_norm or float("inf"), foreach=True
            )
        with timers(f"{part}: Adam step"):
            optimizer.step()
        with timers("statistics (.item())"):
            return norm.item()

    with timers("replay buffer sample"):
        batch = trainer.replay.sample(batch_size, trainer.device)
    with timers("actor: forward + reparameterised sample, log-prob"):
        actions, log_prob = trainer.sample_actions(batch.observations)
    with timers("temperature: loss"):
        ent_coef = trainer.log_ent_coef.detach().exp()
        ent_coef_loss = -(trainer.log_ent_coef * (log_prob + trainer.target_entropy).detach()).mean()
    optimize("ent_coef", ent_coef_loss, "temperature")
    with timers("critic target: next actions (actor forward)"), torch.no_grad():
        next_actions, next_log_prob = trainer.sample_actions(batch.next_observations)
    with timers("critic target: target critics forward, min, target"), torch.no_grad():
        next_q = trainer.target_critic.q_value(batch.next_observations, next_actions).min(dim=0).values
        target = batch.rewards + config.gamma * (1.0 - batch.terminated) * (next_q - ent_coef * next_log_prob)
    with timers("critics: forward, loss"):
        q = critic.q_value(batch.observations, batch.actions)
        critic_loss = 0.5 * ((q - target) ** 2).mean(dim=1).sum()
    optimize("critic", critic_loss, "critics")
    with timers("actor: critics forward (frozen), loss"):
        with _frozen(trainer.critic_parameters):
            q_new = critic.q_value(batch.observations, actions).min(dim=0).values
        actor_loss = (ent_coef * log_prob - q_new).mean()
    optimize("actor", actor_loss, "actor")
    with timers("target update (polyak, foreach lerp)"):
        if trainer.target_update_due():
            trainer.update_target("critic", critic)
    with timers("statistics (.item())"):
        _ = (critic_loss.item(), actor_loss.item(), ent_coef.item(), ent_coef_loss.item())
        _ = (-log_prob.mean().item(), q.mean().item())
    trainer.n_gradient_steps += 1


def profile_sac_update(n_updates: int = 500, seed: int = 0, top: int = 12) -> dict:
    """Where one gradient step of our SAC goes (batch 256, 256x256 networks, one torch thread)."""
    with maze_sac(seed) as rc:
        trainer = rc._trainer
        batch_size = trainer.config.batch_size

        def real_update() -> None:
            trainer.update(trainer.replay.sample(batch_size, trainer.device))
            trainer.n_gradient_steps += 1

        for _ in range(50):
            real_update()
        # the real update (with its sampling), then the replica part by part, interleaved in blocks
        real, replica = [], Timers()
        for _ in range(5):
            start = time.thread_time()
            for _ in range(n_updates // 5):
                real_update()
            real.append((time.thread_time() - start) / (n_updates // 5))
            for _ in range(n_updates // 5):
                sac_update_parts(trainer, replica, batch_size)
        parts = replica.per(n_updates)
        # torch's operators in the real update
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(100):
                real_update()
        events = prof.key_averages()
        total_self = sum(e.self_cpu_time_total for e in events)
        operators = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
        return {
            "n_updates": n_updates,
            "real_update_ms": 1e3 * sorted(real)[len(real) // 2],
            "real_update_ms_all": [1e3 * r for r in real],
            "replica_total_ms": sum(parts.values()),
            "parts_ms": parts,
            "operators": [
                {
                    "name": e.key,
                    "calls_per_update": e.count / 100,
                    "self_ms_per_update": e.self_cpu_time_total / 100 / 1e3,
                    "share": e.self_cpu_time_total / total_self,
                }
                for e in operators
            ],
            "n_operator_calls_per_update": sum(e.count for e in events) / 100,
        }


def profile_sb3_sac_train(n_updates: int = 500, seed: int = 0) -> dict:
    """Stable-Baselines3's ``SAC.train(gradient_steps=1)`` per call, after the warm-up (reference
    for the update part)."""
    with torch_threads(1):
        model = sb3_sac(seed)
        model.learn(SAC_WARMUP_STEPS)
        for _ in range(50):
            model.train(gradient_steps=1, batch_size=256)
        blocks = []
        for _ in range(5):
            start = time.thread_time()
            for _ in range(n_updates // 5):
                model.train(gradient_steps=1, batch_size=256)
            blocks.append((time.thread_time() - start) / (n_updates // 5))
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(100):
                model.train(gradient_steps=1, batch_size=256)
        events = prof.key_averages()
        model.get_env().close()
        return {
            "train_ms": 1e3 * sorted(blocks)[len(blocks) // 2],
            "train_ms_all": [1e3 * b for b in blocks],
            "n_operator_calls_per_update": sum(e.count for e in events) / 100,
        }


def profile(quick: bool = False) -> dict:
    steps = 200 if quick else 1_000
    updates = 100 if quick else 500
    with torch_threads(1):
        return {
            "collect_vs_update": collect_vs_update(steps),
            "maze_update": profile_sac_update(updates),
            "sb3_update": profile_sb3_sac_train(updates),
            "dqn_collect_vs_update": dqn_collect_vs_update(2_560 if quick else 10_240),
            "dqn": profile_dqn(blocks=2 if quick else 5),
            "experiments": experiments(quick=quick),
        }


if __name__ == "__main__":
    import json

    if sys.argv[1:2] == ["profile"]:
        print(json.dumps(profile(quick="--quick" in sys.argv), indent=2))
    elif sys.argv[1:2] == ["experiments"]:
        print(json.dumps(experiments(), indent=2))
    elif sys.argv[1:2] == ["dqn-profile"]:
        with torch_threads(1):
            print(
                json.dumps({"dqn_collect_vs_update": dqn_collect_vs_update(), "dqn": profile_dqn()}, indent=2)
            )

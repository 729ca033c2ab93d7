"""R1: recurrent PPO on CartPole without velocities (``CartPoleNoVel-v1``), against the same PPO
without recurrence, and its training speed against feed-forward PPO (and sb3-contrib's
RecurrentPPO where it is installed).

    .venv/bin/python -m benchmarks.recurrent learning [--seeds 5] [--first-seed 0] [--steps 200000]
        [--variants lstm,feed_forward] [--json benchmarks/results/r1.json]
    .venv/bin/python -m benchmarks.recurrent speed [--steps 20480] [--repetitions 3]
    .venv/bin/python -m benchmarks.recurrent render     # the R1 section of docs/benchmarks.md

Settings (both variants, every seed): rl-baselines3-zoo's ``ppo_lstm`` settings for
CartPoleNoVel-v1 in our names (:data:`SETTINGS`): 8 envs, rollouts of 32 steps, one minibatch of
all 8 envs' sequences, 20 passes, lr 1e-3 and clip range 0.2 both decaying linearly, gamma 0.98,
GAE lambda 0.8, observation and reward normalization; networks: one hidden layer of 64 ReLU units
per part, then (``lstm``) an LSTM of 64 units in the policy and in the critic. ``feed_forward``
is the same without the LSTM. Training runs its whole budget (nothing stops at a threshold); the
trainer keeps the best policy by its own evaluation after every epoch (20 deterministic
episodes, ``runner.eval_episodes=20``: with the default 8, a policy that balanced 8 episodes was
sometimes kept over a steadier later one);
the result is the **independent evaluation** of that policy afterwards: 20 deterministic episodes
with seeds 1,000,000 + i, played through ``RunContext.compute_action`` (its memory reset at each
episode start with ``reset_memory()``).

Speed: env steps per second of training wall time (nothing evaluated during the timed part, one
torch thread), contenders alternating, after a one-epoch warm-up.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, Series, Stopwatch, machine, replace_section, scratch_dir, torch_threads

RESULTS = ROOT / "benchmarks" / "results" / "r1.json"
SECTION = "## R1: recurrent PPO on CartPole without velocities"
ENV = "CartPoleNoVel-v1"
HELD_OUT_SEED, HELD_OUT_EPISODES = 1_000_000, 20

#: rl-baselines3-zoo's ppo_lstm settings for CartPoleNoVel-v1, in our names
SETTINGS = {
    "algorithm.n_rollout_steps": 32,
    "algorithm.n_minibatches": 1,
    "algorithm.n_update_passes": 20,
    "algorithm.lr": 1e-3,
    "algorithm.lr_schedule": "linear",
    "algorithm.clip_range": 0.2,
    "algorithm.clip_range_schedule": "linear",
    "algorithm.gamma": 0.98,
    "algorithm.gae_lambda": 0.8,
    "algorithm.entropy_coef": 0.0,
    "algorithm.epoch_length": 10,
    "algorithm.patience": 0,
    "runner.n_envs": 8,
    "runner.normalize_observations": True,
    "runner.normalize_rewards": True,
    "model.hidden_units": [64],
    "model.activation": "relu",
    "runner.eval_episodes": 20,
}
VARIANTS = {"lstm": {"model.recurrent": "lstm"}, "gru": {"model.recurrent": "gru"}, "feed_forward": {}}


def _epochs(steps: int) -> int:
    per_epoch = (
        SETTINGS["algorithm.epoch_length"] * SETTINGS["algorithm.n_rollout_steps"] * SETTINGS["runner.n_envs"]
    )
    return math.ceil(steps / per_epoch)


def held_out_return(context) -> float:
    """Mean return of the independent evaluation episodes of the run's best policy."""
    from maze_core.env.partially_observed import cartpole_no_velocity

    env, returns = cartpole_no_velocity(), []
    for index in range(HELD_OUT_EPISODES):
        observation, _ = env.reset(seed=HELD_OUT_SEED + index)
        context.reset_memory()
        total, done = 0.0, False
        while not done:
            action = context.compute_action(observation, deterministic=True)
            observation, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def _context(variant: str, seed: int, run_dir: Path, overrides: dict):
    from maze_core import RunContext

    overrides = {**SETTINGS, **VARIANTS[variant], **overrides}
    return RunContext(
        env=ENV, algorithm="ppo", seed=seed, silent=True, run_dir=run_dir / "run", overrides=overrides
    )


def learning_run(variant: str, seed: int, steps: int) -> dict:
    start = time.perf_counter()
    with scratch_dir() as run_dir, torch_threads(1):
        context = _context(variant, seed, run_dir, {"algorithm.n_epochs": _epochs(steps)})
        try:
            summary = context.train()
            result = {
                "variant": variant,
                "selection_episodes": SETTINGS["runner.eval_episodes"],
                "seed": seed,
                "env_steps": summary.env_steps,
                "selection_return": summary.best_return,
                "held_out_return": held_out_return(context),
                "seconds": time.perf_counter() - start,
            }
        finally:
            context.close()
    return result


def speed_run(variant: str, steps: int, seed: int = 0) -> Stopwatch:
    """Training env steps per second, without evaluation, after a one-epoch warm-up."""
    with scratch_dir() as run_dir, torch_threads(1):
        context = _context(variant, seed, run_dir, {"runner.eval_episodes": 0, "algorithm.n_epochs": 0})
        try:
            context.train(n_epochs=1)
            n_epochs = _epochs(steps)
            with Stopwatch(n_epochs * _epochs_steps()) as watch:
                context.train(n_epochs=n_epochs)
        finally:
            context.close()
    return watch


def _epochs_steps() -> int:
    return (
        SETTINGS["algorithm.epoch_length"] * SETTINGS["algorithm.n_rollout_steps"] * SETTINGS["runner.n_envs"]
    )


def sb3_speed_run(steps: int, seed: int = 0) -> Stopwatch:
    """sb3-contrib's RecurrentPPO with the same settings (the zoo's), on the same env."""
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from maze_core.env.partially_observed import cartpole_no_velocity

    with torch_threads(1):
        env = VecNormalize(make_vec_env(cartpole_no_velocity, n_envs=8, seed=seed))
        model = RecurrentPPO(
            "MlpLstmPolicy",
            env,
            n_steps=32,
            batch_size=256,
            n_epochs=20,
            learning_rate=1e-3,
            clip_range=0.2,
            gamma=0.98,
            gae_lambda=0.8,
            ent_coef=0.0,
            seed=seed,
            policy_kwargs={
                "net_arch": {"pi": [64], "vf": [64]},
                "activation_fn": torch.nn.ReLU,
                "lstm_hidden_size": 64,
                "enable_critic_lstm": True,
            },
        )
        model.learn(_epochs_steps())  # warm-up
        with Stopwatch(steps) as watch:
            model.learn(steps, reset_num_timesteps=False)
        env.close()
    return watch


def _write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1) + "\n")


def _load(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def learning(args) -> None:
    path = Path(args.json)
    records = _load(path)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for variant in args.variants.split(","):
            result = learning_run(variant, seed, args.steps)
            print(json.dumps(result), flush=True)
            records.append({"kind": "learning", "date": machine()["date"], **result})
            _write(path, records)


def speed(args) -> None:
    path = Path(args.json)
    records = _load(path)
    contenders = args.contenders.split(",")
    for repetition in range(args.repetitions):
        for contender in contenders:
            watch = (
                sb3_speed_run(args.steps) if contender == "sb3_contrib" else speed_run(contender, args.steps)
            )
            result = {"kind": "speed", "contender": contender, "repetition": repetition,
                      "steps_per_second": watch.steps_per_second,
                      "steps_per_cpu_second": watch.steps_per_cpu_second, "steps": watch.steps}  # fmt: skip
            print(json.dumps(result), flush=True)
            records.append({**result, "date": machine()["date"]})
            _write(path, records)


#: what the section says besides the tables (the tables come from the JSON results)
ABOUT = [
    "Recurrent PPO (`--set model.recurrent=lstm`) against the same PPO without recurrence on",
    "`CartPoleNoVel-v1` (CartPole-v1 without the two velocities), with rl-baselines3-zoo's `ppo_lstm`",
    "settings for that env in both (8 envs, rollouts of 32 steps, one minibatch of all envs'",
    "sequences, 20 passes, lr 1e-3 and clip range 0.2 decaying linearly, gamma 0.98, GAE lambda 0.8,",
    "observation and reward normalization, one hidden layer of 64 ReLU units per part, then an LSTM",
    "of 64 units in the policy and in the critic), 200k env steps per run, one torch thread. The",
    "trainer keeps the best policy by its evaluation after every epoch (the *selection episodes*;",
    "20 with `runner.eval_episodes=20`, first run with the default 8: below, where a policy that",
    "balanced 8 episodes was sometimes kept over a steadier later one). The",
    "result is the independent evaluation of the best policy after training: 20 deterministic",
    "episodes (seeds 1,000,000 + i) played through `RunContext.compute_action` with",
    "`reset_memory()` at each episode start. Commands:",
    "",
    "    .venv/bin/python -m benchmarks.recurrent learning --seeds 5 --steps 200000",
    "    .venv/bin/python -m benchmarks.recurrent speed --contenders lstm,feed_forward,sb3_contrib \\",
    "        --repetitions 3 --steps 10240",
    "    .venv/bin/python -m benchmarks.recurrent render",
    "",
    "Speed: env steps per second of training (no evaluation in the timed part, after a one-epoch",
    "warm-up), contenders alternating in one process; sb3-contrib's RecurrentPPO (2.9.2) with the",
    "same settings (`MlpLstmPolicy`, `net_arch` 64/64 ReLU, `lstm_hidden_size` 64, critic LSTM on,",
    "`VecNormalize`, batch 256, 20 epochs). The machine was shared with other jobs during the runs:",
    "wall times vary with their load, CPU times (this process, all threads) much less, so the",
    "ratios are given for both.",
]


#: what limits the recurrent update's speed (measured with cProfile on this machine)
LIMITS = [
    "What limits the recurrent run: the update. Each of its gradient steps runs the LSTM of the",
    "policy and of the critic forward and backward over sequences of up to 32 steps, and on a CPU",
    "torch's cell (oneDNN) takes about 2 ms forward and 4 ms backward per network for 32 steps of",
    "16-24 sequences, against about 1.5 ms for a whole feed-forward gradient step; with the zoo's",
    "20 gradient steps per 256 env steps that is most of the time. Collection costs twice the",
    "feed-forward's (one LSTM step per env step, and one critic pass over the rollout). Packing the",
    "sequences (`pack_padded_sequence`) was 2-3x slower than padding them on this CPU, so training",
    "pads (only the collector's critic pass packs, for the exact states after each sequence).",
    "sb3-contrib's RecurrentPPO calls its LSTM once per time step, in a Python loop, whenever a",
    "batch holds an episode start (nearly always): that is the difference to ours.",
]


def render(args) -> None:
    records = _load(Path(args.json))
    lines = [SECTION, "", *ABOUT, ""]
    dates = sorted(r["date"] for r in records if "date" in r)
    if dates:
        lines += [f"Measured {dates[0]} to {dates[-1]}."]
    described = {key: value for key, value in machine().items() if "date" not in key and "load" not in key}
    lines += ["Machine: " + "; ".join(f"{key}: {value}" for key, value in described.items()), ""]
    learned = [r for r in records if r["kind"] == "learning"]
    if learned:
        lines += [
            "| variant | selection episodes | seeds | env steps | independent evaluation return per seed "
            "| mean | seeds ≥ 475 |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant, selection in dict.fromkeys(
            (r["variant"], r.get("selection_episodes", 8)) for r in learned
        ):
            runs = [
                r for r in learned if (r["variant"], r.get("selection_episodes", 8)) == (variant, selection)
            ]
            runs = sorted(runs, key=lambda r: r["seed"])
            returns = [r["held_out_return"] for r in runs]
            lines.append(
                f"| {variant} | {selection} | {', '.join(str(r['seed']) for r in runs)} | "
                f"{runs[0]['env_steps']:,} | {', '.join(f'{x:.0f}' for x in returns)} | "
                f"{statistics.mean(returns):.0f} | "
                f"{sum(x >= 475 for x in returns)} of {len(returns)} |"
            )
        lines.append("")
    speeds = [r for r in records if r["kind"] == "speed"]
    if speeds:
        lines += ["| contender | env steps/s of wall time | env steps/s of CPU time |", "|---|---|---|"]
        medians = {}
        for contender in dict.fromkeys(r["contender"] for r in speeds):
            runs = [r for r in speeds if r["contender"] == contender]
            wall = Series([r["steps_per_second"] for r in runs])
            cpu = Series([r["steps_per_cpu_second"] for r in runs])
            medians[contender] = (wall.median, cpu.median)
            lines.append(f"| {contender} | {wall.describe()} | {cpu.describe()} |")
        lines.append("")
        for name, other in (
            ("feed-forward PPO", "feed_forward"),
            ("sb3-contrib RecurrentPPO", "sb3_contrib"),
        ):
            if "lstm" in medians and other in medians:
                wall, cpu = (medians["lstm"][i] / medians[other][i] for i in (0, 1))
                lines.append(f"Ours (LSTM) / {name}: {wall:.2f}x (wall), {cpu:.2f}x (CPU).")
        lines += ["", *LIMITS, ""]
    replace_section(ROOT / "docs" / "benchmarks.md", SECTION, "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["learning", "speed", "render"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--variants", default="lstm,feed_forward")
    parser.add_argument("--contenders", default="lstm,feed_forward")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args()
    if args.steps is None:
        args.steps = 200_000 if args.command == "learning" else 20_480
    {"learning": learning, "speed": speed, "render": render}[args.command](args)


if __name__ == "__main__":
    main()

"""L1: learning measured honestly. Ours against Stable-Baselines3, A2C and PPO, with the same
hyperparameters and network sizes, on CartPole-v1, Acrobot-v1 and Pendulum-v1.

    .venv/bin/python -m benchmarks.learning [--tasks ppo/CartPole-v1,a2c/CartPole-v1] [--seeds 10]
        [--libraries maze,sb3] [--stop-at-threshold] [--json benchmarks/results/learning.json]

Protocol, the same for both libraries, one run after the other (seeds in sequence, one torch
thread, so that the runs of the 2-core machine do not compete with each other):

* train for the task's budget of env steps; every ``eval_every`` env steps evaluate the
  deterministic policy on 8 **selection** episodes. These pick the best policy and tell when the
  threshold was first reached (env steps, and training wall time without the evaluations). With
  ``--stop-at-threshold`` training also stops there (then "final" is that policy).
* afterwards a separate evaluator plays 20 **held-out** episodes with seeds 1,000,000 + i, never
  used for selection or stopping, with the final and with the best policy. The tables report those.
* a seed counts as solved when its best policy's held-out mean return reaches the threshold.

Results go to a JSON file (each finished run is saved at once, so an interrupted benchmark keeps
what it measured) and to the "Learning" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from benchmarks import time_to_solve
from benchmarks.common import ROOT, machine, replace_section, scratch_dir, torch_threads

SELECTION_EPISODES = 8
HELD_OUT_EPISODES = 20
HELD_OUT_SEED = 1_000_000
SELECTION_SEED = 500_000  # Stable-Baselines3's selection episodes (ours use the run's evaluation seed)
RESULTS = ROOT / "benchmarks" / "results" / "learning.json"
SECTION = "## Learning (L1)"

#: the settings of each task, shared by both libraries. Names are ours; the Stable-Baselines3
#: equivalents are set in ``sb3_run``. Both use separate 64x64 tanh networks for actor and critic.
_PPO = {
    "n_envs": 4,
    "n_rollout_steps": 128,
    "n_minibatches": 4,
    "n_update_passes": 10,
    "lr": 3e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "entropy_coef": 0.0,
    "value_loss_coef": 0.5,
    "max_grad_norm": 0.5,
    "optimizer_eps": 1e-5,  # Stable-Baselines3's Adam epsilon
}
#: Stable-Baselines3's A2C defaults (RMSprop, eps 1e-5, no advantage normalization), 8 envs: B3's
#: settings, whose 64x64 networks every task here uses anyway
_A2C = {key: value for key, value in time_to_solve.SETTINGS.items() if key != "hidden_units"}
TASKS = {
    "ppo/CartPole-v1": {"budget": 100_000, "threshold": 475, "eval_every": 5_120, "algorithm": _PPO},
    "a2c/CartPole-v1": {"budget": 100_000, "threshold": 475, "eval_every": 4_000, "algorithm": _A2C},
    "ppo/Acrobot-v1": {"budget": 200_000, "threshold": -100, "eval_every": 10_240, "algorithm": _PPO},
    "a2c/Acrobot-v1": {"budget": 200_000, "threshold": -100, "eval_every": 8_000, "algorithm": _A2C},
    # Pendulum: rl-baselines3-zoo's PPO settings without gSDE (4 envs x 1024 steps, gamma 0.9, lr 1e-3)
    "ppo/Pendulum-v1": {
        "budget": 300_000,
        "threshold": -400,
        "eval_every": 20_480,
        "algorithm": {**_PPO, "n_rollout_steps": 1024, "n_minibatches": 64, "gamma": 0.9, "lr": 1e-3},
    },
    "a2c/Pendulum-v1": {"budget": 300_000, "threshold": -400, "eval_every": 20_000, "algorithm": _A2C},
}
HIDDEN = [64, 64]


def held_out_return(act, env_id: str, seeds: list[int]) -> float:
    """Mean return of deterministic episodes, one per seed, played by ``act(observation) -> action``."""
    env = gym.make(env_id)
    returns = []
    for seed in seeds:
        observation, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(act(observation))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def _held_out_seeds() -> list[int]:
    return [HELD_OUT_SEED + i for i in range(HELD_OUT_EPISODES)]


def _first_reach(curve: list[dict], threshold: float) -> dict | None:
    return next((point for point in curve if point["selection_return"] >= threshold), None)


def maze_run(task: str, seed: int, stop_at_threshold: bool) -> dict:
    """Ours: the dev runner, selection by the trainer's own evaluation after every epoch."""
    from maze_a2c import A2CAlgorithmConfig
    from maze_ppo import PPOAlgorithmConfig

    from benchmarks.throughput import _default_nets
    from maze_core import RunContext

    spec = TASKS[task]
    algorithm, env_id = task.split("/")
    settings = dict(spec["algorithm"])
    n_envs = settings.pop("n_envs")
    config_class = PPOAlgorithmConfig if algorithm == "ppo" else A2CAlgorithmConfig
    epoch_length = spec["eval_every"] // (settings["n_rollout_steps"] * n_envs)
    config = config_class(patience=0, epoch_length=epoch_length, **settings)
    overrides = {
        "runner.n_envs": n_envs,
        "runner.eval_episodes": SELECTION_EPISODES,
        "runner.n_eval_envs": SELECTION_EPISODES,
        **_default_nets(HIDDEN),
    }
    with scratch_dir() as directory, torch_threads(1):
        run_dir = directory / "run"
        rc = RunContext(
            env=env_id,
            algorithm=config,
            runner="dev",
            seed=seed,
            silent=True,
            run_dir=run_dir,
            overrides=overrides,
        )
        start = time.perf_counter()
        try:
            rc.train(
                n_epochs=spec["budget"] // spec["eval_every"],
                target_return=spec["threshold"] if stop_at_threshold else None,
            )
            wall = time.perf_counter() - start
            curve, held_out = maze_curve_and_held_out(rc, run_dir, env_id)
        finally:
            rc.close()
    return _result(task, "maze", seed, curve, held_out, wall)


def _maze_actor(policy):
    def act(observation):
        action = policy.compute_action(
            {"observation": np.asarray(observation, np.float32)}, deterministic=True
        )
        value = action["action"]
        return int(value) if value.ndim == 0 else value

    return act


def sb3_run(task: str, seed: int, stop_at_threshold: bool) -> dict:
    """Stable-Baselines3 with the same settings; a callback plays the selection episodes."""
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    spec = TASKS[task]
    algorithm, env_id = task.split("/")
    s = spec["algorithm"]
    common = {
        "n_steps": s["n_rollout_steps"],
        "learning_rate": s["lr"],
        "gamma": s["gamma"],
        "gae_lambda": s["gae_lambda"],
        "ent_coef": s["entropy_coef"],
        "vf_coef": s["value_loss_coef"],
        "max_grad_norm": s["max_grad_norm"],
        "policy_kwargs": {"net_arch": {"pi": HIDDEN, "vf": HIDDEN}},
        "seed": seed,
        "device": "cpu",
        "verbose": 0,
    }
    if algorithm == "ppo":
        batch = s["n_rollout_steps"] * s["n_envs"] // s["n_minibatches"]
        extra = {"batch_size": batch, "n_epochs": s["n_update_passes"], "clip_range": s["clip_range"]}
        model_class = PPO
    else:
        extra = {"use_rms_prop": True, "rms_prop_eps": s["optimizer_eps"], "normalize_advantage": False}
        model_class = A2C

    curve: list[dict] = []
    state = {"eval_seconds": 0.0, "best": -np.inf, "best_params": None, "start": 0.0}

    def act_with(model):
        return lambda observation: model.predict(observation, deterministic=True)[0]

    class Selection(BaseCallback):
        def _on_training_start(self) -> None:
            state["start"] = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps < (len(curve) + 1) * spec["eval_every"]:
                return True
            before = time.perf_counter()
            train_seconds = before - state["start"] - state["eval_seconds"]
            seeds = [SELECTION_SEED + i for i in range(SELECTION_EPISODES)]
            value = held_out_return(act_with(self.model), env_id, seeds)
            if value > state["best"]:
                state["best"] = value
                state["best_params"] = {k: v.clone() for k, v in self.model.policy.state_dict().items()}
            state["eval_seconds"] += time.perf_counter() - before
            curve.append(
                {"env_steps": self.num_timesteps, "train_seconds": train_seconds, "selection_return": value}
            )
            return not (stop_at_threshold and value >= spec["threshold"])

    with torch_threads(1):
        env = make_vec_env(env_id, n_envs=s["n_envs"], seed=seed)
        model = model_class("MlpPolicy", env, **common, **extra)
        start = time.perf_counter()
        model.learn(spec["budget"], callback=Selection())
        wall = time.perf_counter() - start
        env.close()
        held_out = {"final": held_out_return(act_with(model), env_id, _held_out_seeds())}
        if state["best_params"] is not None:
            with torch.no_grad():
                model.policy.load_state_dict(state["best_params"])
        held_out["best"] = held_out_return(act_with(model), env_id, _held_out_seeds())
    return _result(task, "sb3", seed, curve, held_out, wall)


def _result(task: str, library: str, seed: int, curve: list[dict], held_out: dict, wall: float) -> dict:
    reached = _first_reach(curve, TASKS[task]["threshold"])
    return {
        "task": task,
        "library": library,
        "seed": seed,
        "final_return": held_out["final"],
        "best_return": held_out["best"],
        "solved": held_out["best"] >= TASKS[task]["threshold"],
        "steps_to_threshold": reached["env_steps"] if reached else None,
        "seconds_to_threshold": reached["train_seconds"] if reached else None,
        "env_steps": curve[-1]["env_steps"] if curve else 0,
        "wall_seconds": wall,
        "curve": curve,
    }


# --- the report ---------------------------------------------------------------------------------


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def _median_reached(values: list[float | None], fmt: str) -> str:
    """Median over seeds, an unreached threshold counting as infinitely late."""
    ranked = sorted(v if v is not None else float("inf") for v in values)
    median = statistics.median(ranked)
    return "not reached" if median == float("inf") else fmt.format(median)


def render_section(results: dict) -> str:
    """The "Learning (L1)" section of docs/benchmarks.md."""
    runs, about = results["runs"], results["machine"]
    lines = [
        SECTION,
        "",
        "Ours against Stable-Baselines3 with the **same hyperparameters and network sizes** (separate "
        "64x64 tanh actor and critic). Protocol (`benchmarks/learning.py`): seeds run in sequence with "
        f"one torch thread; every `eval_every` env steps {SELECTION_EPISODES} deterministic **selection** "
        "episodes pick the best policy and time the threshold; afterwards a separate evaluator plays "
        f"{HELD_OUT_EPISODES} **held-out** episodes (seeds {HELD_OUT_SEED:,} + i, never used for selection "
        "or stopping) with the final and the best policy. Returns below are those held-out means; a seed "
        "is solved when its best policy's held-out mean reaches the threshold. Steps and training time "
        "(without evaluation) to the threshold are medians over seeds, as the selection episodes saw it.",
        "",
        "```bash",
        results["command"],
        "```",
        "",
        f"Ran {results['date']} on {about.get('cpu', '?')}, torch {about.get('torch', '?')}, "
        f"Stable-Baselines3 {about.get('stable-baselines3', '?')}, maze-core {about.get('maze-core', '?')}; "
        f"stop at threshold: {results['stop_at_threshold']}. "
        "The machine was shared with other developers' builds and tests; wall times are noisy.",
        "",
        "| task | library | seeds | final return | best return | solved | median steps to threshold "
        "| median train time to threshold (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tasks = [task for task in TASKS if any(run["task"] == task for run in runs)]
    for task in tasks:
        for library in ("maze", "sb3"):
            mine = [run for run in runs if run["task"] == task and run["library"] == library]
            if not mine:
                continue
            solved = sum(run["solved"] for run in mine)
            lines.append(
                f"| {task} (budget {TASKS[task]['budget']:,}, threshold {TASKS[task]['threshold']}) "
                f"| {'ours' if library == 'maze' else 'Stable-Baselines3'} | {len(mine)} "
                f"| {_mean_std([r['final_return'] for r in mine])} "
                f"| {_mean_std([r['best_return'] for r in mine])} "
                f"| {solved}/{len(mine)} "
                f"| {_median_reached([r['steps_to_threshold'] for r in mine], '{:,.0f}')} "
                f"| {_median_reached([r['seconds_to_threshold'] for r in mine], '{:.1f}')} |"
            )
    missing = [task for task in TASKS if task not in tasks]
    if missing:
        lines += ["", f"**Not run in these results** (no time on the shared machine): {', '.join(missing)}."]
    lines += ["", "Settings (ours; Stable-Baselines3 gets the same values under its names):", ""]
    for task in tasks:
        settings = ", ".join(f"{k} {v}" for k, v in TASKS[task]["algorithm"].items())
        lines.append(f"* `{task}`: eval_every {TASKS[task]['eval_every']:,}; {settings}")
    lines += [
        "",
        "What still differs between the two: initialisation (ours: normc with 0.01 output gain; "
        "Stable-Baselines3: orthogonal), and for Box actions the distribution (ours: a tanh-squashed "
        "Gaussian whose log std is a network output; Stable-Baselines3: a Gaussian with a "
        "state-independent log std, actions clipped to the bounds).",
        "",
        "The full run (all tasks, 10 CartPole seeds and 3 Acrobot and Pendulum seeds per library; "
        "several hours of one core):",
        "",
        "```bash",
        ".venv/bin/python -m benchmarks.learning --seeds 10 --tasks ppo/CartPole-v1,a2c/CartPole-v1",
        ".venv/bin/python -m benchmarks.learning --seeds 3 --append "
        "--tasks ppo/Acrobot-v1,a2c/Acrobot-v1,ppo/Pendulum-v1,a2c/Pendulum-v1",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_section(results: dict, page: Path = ROOT / "docs" / "benchmarks.md") -> None:
    """Replace (or append) the learning section of the benchmarks page (up to the next section,
    e.g. L2's, which stays)."""
    replace_section(page, SECTION, render_section(results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="L1: learning, ours vs Stable-Baselines3.")
    parser.add_argument("--tasks", default="ppo/CartPole-v1,a2c/CartPole-v1")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed ... first-seed + seeds - 1"
    )
    parser.add_argument("--libraries", default="maze,sb3")
    parser.add_argument("--stop-at-threshold", action="store_true")
    parser.add_argument("--append", action="store_true", help="add to the runs already in --json")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    tasks = [task.strip() for task in args.tasks.split(",")]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {', '.join(TASKS)}")
    command = " ".join(
        [".venv/bin/python -m benchmarks.learning", *(argv if argv is not None else sys.argv[1:])]
    )
    previous = json.loads(args.json.read_text()) if args.append and args.json.exists() else None
    results = {
        "command": command if previous is None else f"{previous['command']}\n{command}",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "stop_at_threshold": args.stop_at_threshold,
        "runs": previous["runs"] if previous else [],
    }
    runners = {"maze": maze_run, "sb3": sb3_run}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for library in args.libraries.split(","):
                run = runners[library](task, seed, args.stop_at_threshold)
                results["runs"].append(run)
                print(
                    f"{task} {library} seed {seed}: final {run['final_return']:.1f}, "
                    f"best {run['best_return']:.1f}, "
                    f"steps to threshold {run['steps_to_threshold']}, wall {run['wall_seconds']:.0f} s",
                    flush=True,
                )
                args.json.write_text(json.dumps(results, indent=1) + "\n")
                write_section(results)


if __name__ == "__main__":
    main()


def maze_curve_and_held_out(rc, run_dir, env_id: str) -> tuple[list[dict], dict[str, float]]:
    """A finished run's selection curve (from its stats.jsonl) and the held-out returns of its
    final and its best policy."""
    curve, train_time = [], 0.0
    for line in (run_dir / "stats.jsonl").read_text().splitlines():
        stats = json.loads(line)
        train_time += stats["algorithm"]["epoch_time"]
        curve.append(
            {
                "env_steps": int(stats["algorithm"]["env_steps"]),
                "train_seconds": train_time,
                "selection_return": stats["eval"]["episode_return_mean"],
            }
        )
    held_out = {
        "final": held_out_return(_maze_actor(rc._model.policy), env_id, _held_out_seeds()),
        "best": held_out_return(_maze_actor(rc.policy), env_id, _held_out_seeds()),
    }
    return curve, held_out

"""L2: off-policy learning measured honestly. Ours against Stable-Baselines3, DQN and SAC, with
rl-baselines3-zoo's settings and the same network sizes, under L1's protocol.

    .venv/bin/python -m benchmarks.learning_off_policy [--tasks dqn/CartPole-v1,sac/Pendulum-v1]
        [--seeds 10] [--first-seed 0] [--libraries maze,sb3] [--json benchmarks/results/l2.json]
    .venv/bin/python -m benchmarks.learning_off_policy --render a.json,b.json   # merge and report
    .venv/bin/python -m benchmarks.run --only L2                               # the full L2

Protocol (L1's, see ``benchmarks/learning.py``): seeds run in sequence with one torch thread;
every ``eval_every`` env steps the deterministic policy plays 8 **selection** episodes, which pick
the best policy and say when the threshold was first reached; afterwards a separate evaluator
plays 20 **held-out** episodes (seeds 1,000,000 + i, never used for selection or stopping) with the
final and with the best policy. The tables report those held-out returns. Nothing stops at the
threshold: every run trains its whole budget.

Contenders ("libraries"):

* ``maze``: ours with the **zoo's one-env settings** (``runner.n_envs=1`` and the zoo's
  ``train_freq``/``gradient_steps``), so every setting equals Stable-Baselines3's;
* ``maze_defaults``: ours as a user gets it with ``maze train --algorithm dqn|sac`` (the config's
  defaults: 4 envs and the same ratio of gradient steps to env steps; DQN with double-DQN targets);
* ``sb3``: Stable-Baselines3 with the zoo's settings on one env.

Each process writes its runs to its ``--json`` as they finish (an interrupted benchmark keeps what
it measured) and, unless ``--no-docs``, the "Learning, off-policy (L2)" section of
docs/benchmarks.md from the runs in that file. Two processes in parallel must use two JSON files
and ``--no-docs``; ``--render`` merges their files into the section afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, machine, replace_section, scratch_dir, torch_threads
from benchmarks.learning import (
    HELD_OUT_EPISODES,
    HELD_OUT_SEED,
    SELECTION_EPISODES,
    SELECTION_SEED,
    _held_out_seeds,
    _mean_std,
    _median_reached,
    held_out_return,
    maze_curve_and_held_out,
)

RESULTS = ROOT / "benchmarks" / "results" / "l2.json"
SECTION = "## Learning, off-policy (L2)"

#: rl-baselines3-zoo's DQN settings for CartPole-v1 (hyperparams/dqn.yml), in our names. The zoo's
#: ``target_update_interval`` 10 counts env steps on one env and only acts during collection (a
#: hard copy of the online network every 10 env steps of a 256-step collection, with no gradient
#: step in between): the target is the online network of the end of the previous round. Ours counts
#: gradient steps: 128, once per round of 128 gradient steps.
DQN_ZOO = {
    "n_envs": 1,
    "train_freq": 256,
    "gradient_steps": 128,
    "lr": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 128,
    "tau": 1.0,
    "exploration_fraction": 0.16,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.04,
    "max_grad_norm": 10.0,
    "double_q": False,  # Stable-Baselines3's DQN has no double-DQN targets
    "hidden_units": [256, 256],
}
#: rl-baselines3-zoo's SAC settings for Pendulum-v1 (hyperparams/sac.yml: lr 1e-3, 20k env steps)
#: and Stable-Baselines3's SAC defaults for the rest, in our names
SAC_ZOO = {
    "n_envs": 1,
    "train_freq": 1,
    "gradient_steps": 1,
    "lr": 1e-3,
    "batch_size": 256,
    "buffer_size": 1_000_000,
    "learning_starts": 100,
    "gamma": 0.99,
    "tau": 0.005,
    "target_update_interval": 1,
    "ent_coef": "auto",
    "target_entropy": "auto",
    "hidden_units": [256, 256],
}
#: rl-baselines3-zoo's SAC settings for the MuJoCo tasks (HalfCheetah: learning_starts 10000,
#: otherwise Stable-Baselines3's defaults)
SAC_MUJOCO = {**SAC_ZOO, "lr": 3e-4, "learning_starts": 10_000}

TASKS = {
    # 51,200 = 200 rounds of 256 env steps: the zoo's 50k rounded up to whole rounds for both (the
    # zoo's run itself collects 196 rounds, 50,176 steps, as Stable-Baselines3 finishes a round)
    "dqn/CartPole-v1": {"budget": 51_200, "threshold": 475, "eval_every": 5_120, "settings": DQN_ZOO},
    "sac/Pendulum-v1": {"budget": 20_000, "threshold": -200, "eval_every": 2_000, "settings": SAC_ZOO},
    "sac/HalfCheetah-v5": {
        "budget": 100_000,
        "threshold": 3_000,
        "eval_every": 10_000,
        "settings": SAC_MUJOCO,
    },
}
LIBRARIES = ("maze", "maze_defaults", "sb3")
LABELS = {
    "maze": "ours, the zoo's settings (1 env)",
    "maze_defaults": "ours, the config's defaults (4 envs)",
    "sb3": "Stable-Baselines3",
}


def _first_reach(curve: list[dict], threshold: float) -> dict | None:
    return next((point for point in curve if point["selection_return"] >= threshold), None)


def maze_config(task: str, defaults: bool):
    """Our config for ``task``: the zoo's one-env settings, or the plugin's defaults (4 envs).
    Returns ``(config, n_envs, epochs)``; an epoch is ``eval_every`` env steps."""
    from maze_dqn import DQNAlgorithmConfig
    from maze_sac import SACAlgorithmConfig

    spec = TASKS[task]
    algorithm, _ = task.split("/")
    config_class = DQNAlgorithmConfig if algorithm == "dqn" else SACAlgorithmConfig
    if defaults:
        base = config_class()
        settings, n_envs = {}, 4
        train_freq = base.train_freq
    else:
        settings = {k: v for k, v in spec["settings"].items() if k not in ("n_envs", "hidden_units")}
        n_envs, train_freq = spec["settings"]["n_envs"], spec["settings"]["train_freq"]
    epoch_length = spec["eval_every"] // (train_freq * n_envs)
    n_epochs = spec["budget"] // spec["eval_every"]
    assert epoch_length * train_freq * n_envs * n_epochs == spec["budget"], task
    config = config_class(patience=0, n_epochs=n_epochs, epoch_length=epoch_length, **settings)
    return config, n_envs, n_epochs


def maze_run(task: str, seed: int, defaults: bool = False) -> dict:
    """Ours on the dev runner; selection by the trainer's own evaluation after every epoch."""
    from maze_core import RunContext

    _, env_id = task.split("/")
    config, n_envs, n_epochs = maze_config(task, defaults)
    overrides = {
        "runner.n_envs": n_envs,
        "runner.eval_episodes": SELECTION_EPISODES,
        "runner.n_eval_envs": SELECTION_EPISODES,
    }
    with scratch_dir() as directory, torch_threads(1):
        run_dir = directory / "run"
        rc = RunContext(
            env=env_id, algorithm=config, runner="dev", seed=seed, silent=True, run_dir=run_dir,
            overrides=overrides,
        )  # fmt: skip
        start = time.perf_counter()
        try:
            rc.train(n_epochs=n_epochs)
            wall = time.perf_counter() - start
            curve, held_out = maze_curve_and_held_out(rc, run_dir, env_id)
        finally:
            rc.close()
    library = "maze_defaults" if defaults else "maze"
    return _result(task, library, seed, curve, held_out, wall, settings=config.to_dict() | {"n_envs": n_envs})


def sb3_model(task: str, seed: int):
    """Stable-Baselines3's DQN or SAC with the task's zoo settings on one env."""
    from stable_baselines3 import DQN, SAC
    from stable_baselines3.common.env_util import make_vec_env

    algorithm, env_id = task.split("/")
    s = TASKS[task]["settings"]
    env = make_vec_env(env_id, n_envs=s["n_envs"], seed=seed)
    common = {
        "learning_rate": s["lr"],
        "buffer_size": s["buffer_size"],
        "learning_starts": s["learning_starts"],
        "batch_size": s["batch_size"],
        "gamma": s["gamma"],
        "tau": s["tau"],
        "train_freq": s["train_freq"],
        "gradient_steps": s["gradient_steps"],
        "policy_kwargs": {"net_arch": s["hidden_units"]},
        "seed": seed,
        "device": "cpu",
        "verbose": 0,
    }
    if algorithm == "dqn":
        return DQN(
            "MlpPolicy",
            env,
            target_update_interval=10,  # the zoo's, in env steps (see DQN_ZOO)
            exploration_fraction=s["exploration_fraction"],
            exploration_initial_eps=s["exploration_initial_eps"],
            exploration_final_eps=s["exploration_final_eps"],
            max_grad_norm=s["max_grad_norm"],
            **common,
        )
    return SAC(
        "MlpPolicy",
        env,
        ent_coef=s["ent_coef"],
        target_entropy=s["target_entropy"],
        target_update_interval=s["target_update_interval"],
        **common,
    )


def sb3_run(task: str, seed: int) -> dict:
    """Stable-Baselines3 with the zoo's settings; a callback plays the selection episodes at the
    start of the first collection after every ``eval_every`` env steps (after that round's
    training, where our epochs end) and at the end of training."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    spec = TASKS[task]
    _, env_id = task.split("/")
    curve: list[dict] = []
    state = {"eval_seconds": 0.0, "best": -np.inf, "best_params": None, "start": 0.0}

    def act_with(model):
        return lambda observation: model.predict(observation, deterministic=True)[0]

    class Selection(BaseCallback):
        def _select(self) -> None:
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

        def _on_training_start(self) -> None:
            state["start"] = time.perf_counter()

        def _on_rollout_start(self) -> None:
            if self.num_timesteps >= (len(curve) + 1) * spec["eval_every"]:
                self._select()

        def _on_training_end(self) -> None:
            if self.num_timesteps >= (len(curve) + 1) * spec["eval_every"]:
                self._select()

        def _on_step(self) -> bool:
            return True

    with torch_threads(1):
        model = sb3_model(task, seed)
        start = time.perf_counter()
        model.learn(spec["budget"], callback=Selection())
        wall = time.perf_counter() - start
        model.get_env().close()
        held_out = {"final": held_out_return(act_with(model), env_id, _held_out_seeds())}
        if state["best_params"] is not None:
            with torch.no_grad():
                model.policy.load_state_dict(state["best_params"])
        held_out["best"] = held_out_return(act_with(model), env_id, _held_out_seeds())
    return _result(task, "sb3", seed, curve, held_out, wall, settings=dict(TASKS[task]["settings"]))


def _result(task, library, seed, curve, held_out, wall, settings) -> dict:
    reached = _first_reach(curve, TASKS[task]["threshold"])
    return {
        "task": task,
        "library": library,
        "seed": seed,
        "final_return": held_out["final"],
        "best_return": held_out["best"],
        "solved": held_out["best"] >= TASKS[task]["threshold"],
        "final_solved": held_out["final"] >= TASKS[task]["threshold"],
        "steps_to_threshold": reached["env_steps"] if reached else None,
        "seconds_to_threshold": reached["train_seconds"] if reached else None,
        "env_steps": curve[-1]["env_steps"] if curve else 0,
        "train_seconds": curve[-1]["train_seconds"] if curve else None,
        "wall_seconds": wall,
        "curve": curve,
        "settings": settings,
    }


# --- the report ---------------------------------------------------------------------------------


def _per_seed(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def render_section(results: dict, notes: str = "") -> str:
    """The "Learning, off-policy (L2)" section of docs/benchmarks.md."""
    runs, about = results["runs"], results["machine"]
    lines = [
        SECTION,
        "",
        "Ours against Stable-Baselines3 with rl-baselines3-zoo's settings and the same network sizes, "
        "under L1's protocol (`benchmarks/learning_off_policy.py`): seeds in sequence, one torch thread "
        f"per process; every `eval_every` env steps {SELECTION_EPISODES} deterministic **selection** "
        "episodes pick the best policy and time the threshold (Stable-Baselines3: seeds "
        f"{SELECTION_SEED:,} + i, at the start of the first collection after `eval_every` steps, i.e. "
        "after that round's gradient steps, where our epochs end); afterwards a separate evaluator "
        f"plays {HELD_OUT_EPISODES} **held-out** episodes (seeds {HELD_OUT_SEED:,} + i, never used for "
        "selection or stopping) with the final and the best policy. Returns are those held-out means "
        "(mean ± standard deviation over seeds); no run stops early. *Solved*: the held-out mean "
        "reaches the threshold, counted for the best and for the final policy.",
        "",
        "```bash",
        results["command"],
        "```",
        "",
        f"Ran {results['date']} on {about.get('cpu', '?')}, Python {about.get('python', '?')}, "
        f"torch {about.get('torch', '?')}, gymnasium {about.get('gymnasium', '?')}, "
        f"Stable-Baselines3 {about.get('stable-baselines3', '?')}"
        + (
            "; the processes below (the commit each one imported; `with uncommitted changes` includes "
            "this benchmark's own files)."
            if results.get("parts")
            else f", maze-core {about.get('maze-core', '?')} (load average at start "
            f"{about.get('load average at start (1, 5, 15 min)', '?')})."
        )
        + " "
        "Two benchmark processes ran at once (nice 19), on a machine shared with another developer's "
        "test suite: wall times are noisy.",
        "",
        *(
            [
                "| process | started | load average at start | maze-core | runs |",
                "|---|---|---|---|---|",
                *(
                    f"| `{part['command'].split('learning_off_policy ')[-1]}` "
                    f"| {part['date']} | {part['load']} "
                    f"| {part['maze-core']} | {part['runs']} |"
                    for part in results["parts"]
                ),
                "",
            ]
            if results.get("parts")
            else []
        ),
        "| task | contender | seeds | final return | best return | solved (best) | solved (final) "
        "| median steps to threshold | median train time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tasks = [task for task in TASKS if any(run["task"] == task for run in runs)]
    for task in tasks:
        for library in LIBRARIES:
            mine = sorted(
                (r for r in runs if r["task"] == task and r["library"] == library), key=lambda r: r["seed"]
            )
            if not mine:
                continue
            lines.append(
                f"| {task} (budget {TASKS[task]['budget']:,}, threshold {TASKS[task]['threshold']}) "
                f"| {LABELS[library]} | {len(mine)} "
                f"| {_mean_std([r['final_return'] for r in mine])} "
                f"| {_mean_std([r['best_return'] for r in mine])} "
                f"| {sum(r['solved'] for r in mine)}/{len(mine)} "
                f"| {sum(r['final_solved'] for r in mine)}/{len(mine)} "
                f"| {_median_reached([r['steps_to_threshold'] for r in mine], '{:,.0f}')} "
                f"| {statistics.median(r['train_seconds'] for r in mine):.0f} |"
            )
    lines += ["", "Per seed (held-out mean return of the best policy; of the final policy):", ""]
    for task in tasks:
        for library in LIBRARIES:
            mine = sorted(
                (r for r in runs if r["task"] == task and r["library"] == library), key=lambda r: r["seed"]
            )
            if mine:
                seeds = ", ".join(str(r["seed"]) for r in mine)
                lines.append(
                    f"* `{task}`, {LABELS[library]}, seeds {seeds}: "
                    f"best {_per_seed([r['best_return'] for r in mine])}; "
                    f"final {_per_seed([r['final_return'] for r in mine])}"
                )
    if notes:
        lines += ["", notes.strip()]
    lines.append("")
    return "\n".join(lines)


def write_section(results: dict, notes: str = "", page: Path = ROOT / "docs" / "benchmarks.md") -> None:
    replace_section(page, SECTION, render_section(results, notes))


NOTES_FILE = ROOT / "benchmarks" / "results" / "l2_notes.md"


def _merge(paths: list[Path]) -> dict:
    parts = [json.loads(path.read_text()) for path in paths]
    commands = []
    for part in parts:
        for command in part["command"].splitlines():
            if command not in commands:
                commands.append(command)
    first = min(parts, key=lambda part: part["date"])
    return {
        "command": "\n".join(commands),
        "machine": first["machine"],
        "date": first["date"],
        "parts": [
            {
                "command": part["command"],
                "date": part["date"],
                "maze-core": part["machine"].get("maze-core"),
                "load": part["machine"].get("load average at start (1, 5, 15 min)"),
                "runs": len(part["runs"]),
            }
            for part in parts
        ],
        "runs": [run for part in parts for run in part["runs"]],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="L2: off-policy learning, ours vs Stable-Baselines3.")
    parser.add_argument("--tasks", default="dqn/CartPole-v1,sac/Pendulum-v1")
    parser.add_argument("--seeds", type=int, default=None, help="default: 10 for DQN, 5 for SAC")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--libraries", default="maze,sb3", help=f"comma-separated, of {', '.join(LIBRARIES)}")
    parser.add_argument("--append", action="store_true", help="add to the runs already in --json")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument(
        "--render", metavar="JSON,JSON", help="merge these result files into --json and the docs"
    )
    args = parser.parse_args(argv)
    notes = NOTES_FILE.read_text() if NOTES_FILE.exists() else ""
    if args.render:
        results = _merge([Path(p) for p in args.render.split(",")])
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        write_section(results, notes)
        return
    tasks = [task.strip() for task in args.tasks.split(",")]
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {', '.join(TASKS)}")
    libraries = [name.strip() for name in args.libraries.split(",")]
    if set(libraries) - set(LIBRARIES):
        parser.error(f"unknown libraries {sorted(set(libraries) - set(LIBRARIES))}")
    command = " ".join(
        [".venv/bin/python -m benchmarks.learning_off_policy", *(argv if argv is not None else sys.argv[1:])]
    )
    previous = json.loads(args.json.read_text()) if args.append and args.json.exists() else None
    results = {
        "command": command if previous is None else f"{previous['command']}\n{command}",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": previous["runs"] if previous else [],
    }
    runners = {
        "maze": lambda task, seed: maze_run(task, seed),
        "maze_defaults": lambda task, seed: maze_run(task, seed, defaults=True),
        "sb3": sb3_run,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        n_seeds = (
            args.seeds
            if args.seeds is not None
            else (10 if task.startswith("dqn") else 5 if "Pendulum" in task else 3)
        )
        for seed in range(args.first_seed, args.first_seed + n_seeds):
            # alternate which library goes first, so that slow phases of the machine hit both alike
            order = libraries if seed % 2 == 0 else libraries[::-1]
            for library in order:
                run = runners[library](task, seed)
                results["runs"].append(run)
                print(
                    f"{task} {library} seed {seed}: final {run['final_return']:.1f}, "
                    f"best {run['best_return']:.1f}, steps to threshold {run['steps_to_threshold']}, "
                    f"train {run['train_seconds']:.0f} s, wall {run['wall_seconds']:.0f} s",
                    flush=True,
                )
                args.json.write_text(json.dumps(results, indent=1) + "\n")
                if not args.no_docs:
                    write_section(results, notes)


if __name__ == "__main__":
    main()

"""Verification of the shipped presets (docs/presets.md): each trains through the CLI with its
settings for its whole budget (``algorithm.n_epochs``, or until the algorithm's ``patience``
stops it), then its best model plays 20 fresh episodes (``maze evaluate``, seeded apart from the
episodes the run selected its best model with); it has learned when their mean return reaches the
env's threshold.

    .venv/bin/python -m benchmarks.presets --tasks ppo/Pendulum-v1 [--seed 0] [--json FILE]

Runs one task after another, each in its own ``maze`` process; the results are appended to
``--json`` (one JSON object per line).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: the mean return an env counts as learned at (Pendulum: issue 22's -400)
THRESHOLDS = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "Pendulum-v1": -400.0,
    "MountainCar-v0": -110.0,
}
EVALUATION_EPISODES = 20
MAZE = [sys.executable, "-m", "maze_core"]


def verify(task: str, seed: int, directory: Path) -> dict:
    """Train ``task`` ("algorithm/env") with its zoo preset and evaluate the best model."""
    algorithm, env = task.split("/")
    run_dir = directory / task.replace("/", "-")
    train = [
        *MAZE, "train", "--env", env, "--algorithm", algorithm, "--preset", "zoo", "--seed", str(seed),
        "--run-dir", str(run_dir),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(train, check=True, stdout=subprocess.DEVNULL)
    return result(task, seed, run_dir, time.perf_counter() - start, " ".join(train[2:]))


def result(task: str, seed: int, run_dir: Path, wall: float, command: str) -> dict:
    """What the run in ``run_dir`` reached: in its own evaluations, and on fresh episodes."""
    env = task.split("/")[1]
    lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    evaluate = [*MAZE, "evaluate", str(run_dir), "--episodes", str(EVALUATION_EPISODES), "--json"]
    held_out = json.loads(subprocess.run(evaluate, check=True, capture_output=True, text=True).stdout)
    config = json.loads((run_dir / "config.json").read_text())
    return {
        "task": task,
        "seed": seed,
        "threshold": THRESHOLDS[env],
        "epochs": len(lines),
        "budget_epochs": config["algorithm"]["n_epochs"],
        "env_steps": int(lines[-1]["algorithm"]["env_steps"]),
        "best_selection_return": max(line["eval"]["episode_return_mean"] for line in lines),
        "held_out_return": held_out["episode_return_mean"],
        "held_out_episodes": EVALUATION_EPISODES,
        "reached": held_out["episode_return_mean"] >= THRESHOLDS[env],
        "wall_seconds": round(wall, 1),
        "command": command,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", required=True, help="comma-separated algorithm/env, e.g. ppo/Pendulum-v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="append the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="maze-presets-") as directory:
        for task in args.tasks.split(","):
            result = verify(task, args.seed, Path(directory))
            print(json.dumps(result), flush=True)
            if args.json is not None:
                with args.json.open("a") as file:
                    file.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

"""Maze's benchmark suite: B1-B9 in one process session, contenders alternating, medians of 3.

    benchmarks/run.sh [--only B1,B4] [--quick] [--repetitions 3] [--output docs/benchmarks.md]
                      [--json results.json] [--render results.json]

(``run.sh`` installs the benchmark-only dependencies first, then runs ``python -m benchmarks.run``.)
A full run rewrites ``docs/benchmarks.md``; a partial or ``--quick`` one prints its results and
writes a report only where ``--output`` says.

* B1 throughput, A2C on CartPole-v1: ours (dev runner) vs Stable-Baselines3 vs a minimal loop
* B2 the seed tutorial's configuration on the dev and local runners
* B3 time to a mean evaluation return of 475: ours vs Stable-Baselines3, both with rl-zoo's settings
* B4 the local runner with 2 workers vs the dev runner, on an env with ~1 ms of CPU work per step
* B5 start-up: ``maze --help``, ``maze plugins list``; peak memory of the tutorial
* B6 the tutorial script's wall time
* B7 the ray runner (2 workers) vs the dev runner on the ~1 ms env and on CartPole, and the parts
  of one update on the ray runner (runs last: it moves this process into a private network
  namespace where it can, so that Ray binds loopback only)
* B8 A2C throughput at 8, 64 and 256 envs: ours (per-env and native path) vs Stable-Baselines3 vs
  the minimal loop (and, in steady state, the hand-written native floor), steady state and end to
  end, and a profile of an update at 256 envs
* B9 PPO throughput on CartPole-v1: ours (dev runner) vs Stable-Baselines3, at 8 envs and, steady
  state, at 8, 64 and 256 envs on both our paths
* B10 off-policy speed: SAC env steps/s with one gradient step per env step (Pendulum-v1, steady
  state) and the wall time of the zoo's DQN run on CartPole-v1, ours vs Stable-Baselines3, and
  where our SAC update's time goes

The learning benchmarks run on their own (hours of CPU): L1 with ``python -m benchmarks.learning``,
L2 (off-policy) with ``python -m benchmarks.learning_off_policy`` (or ``--only L2`` here, which
runs its default tasks and seeds and writes its section of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks import report
from benchmarks.common import ROOT, alternate, machine, scratch_dir

ALL = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10")
#: selectable with --only, never part of a full run (about an hour of 2 cores)
SEPARATE = ("L2",)


def _log(text: str) -> None:
    print(text, flush=True)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def run_b1(repetitions: int, quick: bool) -> dict:
    from benchmarks import throughput

    steps = 8_000 if quick else 40_000
    _log(f"B1: A2C throughput on CartPole-v1, {steps} env steps per run")
    results = alternate(
        {
            "maze": lambda i: throughput.maze_a2c(steps, seed=i),
            "sb3": lambda i: throughput.sb3_a2c(steps, seed=i),
            "sb3_1_thread": lambda i: throughput.sb3_a2c(steps, seed=i, threads=1),
            "minimal": lambda i: throughput.minimal_a2c(steps, seed=i),
        },
        repetitions,
        _log,
    )
    return {"steps": steps, "config": throughput.B1, "runs": report.stopwatches(results)}


def run_b9(repetitions: int, quick: bool) -> dict:
    from benchmarks import throughput

    steps = 5_120 if quick else 20_480
    _log(f"B9: PPO throughput on CartPole-v1, {steps} env steps per run")
    results = alternate(
        {
            "maze": lambda i: throughput.maze_ppo(steps, seed=i),
            "sb3": lambda i: throughput.sb3_ppo(steps, seed=i),
            "sb3_1_thread": lambda i: throughput.sb3_ppo(steps, seed=i, threads=1),
        },
        repetitions,
        _log,
    )
    result = {"steps": steps, "config": throughput.B9, "runs": report.stopwatches(results), "scaling": {}}
    from benchmarks import env_scaling

    # whole epochs of ours (10 updates of 32 steps per env) at every size
    epochs = {8: 1, 64: 1, 256: 1} if quick else {8: 8, 64: 2, 256: 1}
    for n_envs in env_scaling.N_ENVS:
        steps = epochs[n_envs] * throughput.B9_EPOCH_LENGTH * throughput.B9["n_rollout_steps"] * n_envs
        _log(f"B9: {n_envs} envs, {steps} env steps per run (steady state)")
        runs = alternate(
            {
                name: (
                    lambda i, name=name, n=n_envs, s=steps: env_scaling.ppo_steady_state(name, n, s, seed=i)
                )
                for name in env_scaling.PPO_CONTENDERS
            },
            repetitions,
            _log,
        )
        result["scaling"][n_envs] = {"steps": steps, "runs": report.stopwatches(runs)}
    return result


def run_b10(repetitions: int, quick: bool) -> dict:
    from benchmarks import off_policy_speed as speed

    sac_steps = 200 if quick else 1_000
    dqn_steps = 2_560 if quick else speed.DQN_STEPS
    _log(f"B10: SAC on Pendulum-v1, {sac_steps} env steps (= gradient steps) per run, steady state")
    sac = alternate(
        {
            "maze": lambda i: speed.maze_sac_steady(sac_steps, seed=i),
            "sb3": lambda i: speed.sb3_sac_steady(sac_steps, seed=i),
        },
        repetitions,
        _log,
    )
    _log(f"B10: DQN on CartPole-v1, the zoo's run of {dqn_steps} env steps, construction to the end")
    speed.warm_up_dqn()
    dqn = alternate(
        {
            "maze": lambda i: speed.maze_dqn_run(dqn_steps, seed=i),
            "sb3": lambda i: speed.sb3_dqn_run(dqn_steps, seed=i),
        },
        repetitions,
        _log,
    )
    _log("B10: where the time goes")
    profile = speed.profile(quick)
    _log(json.dumps(profile, indent=2))
    return {
        "sac_steps": sac_steps,
        "sac_warmup_steps": speed.SAC_WARMUP_STEPS,
        "dqn_steps": dqn_steps,
        "sac": report.stopwatches(sac),
        "dqn": report.stopwatches(dqn),
        "profile": profile,
    }


def run_l2() -> None:
    from benchmarks import learning_off_policy

    learning_off_policy.main([])


def run_b2(repetitions: int, quick: bool) -> dict:
    from benchmarks import throughput

    steps = 10_000 if quick else 30_000
    _log(f"B2: the tutorial's configuration, {steps} env steps per run")
    results = alternate(
        {
            "dev": lambda i: throughput.maze_tutorial_config("dev", steps, seed=i),
            "local": lambda i: throughput.maze_tutorial_config("local", steps, seed=i),
        },
        repetitions,
        _log,
    )
    return {"steps": steps, "runs": report.stopwatches(results)}


def run_b3(repetitions: int, quick: bool) -> dict:
    from benchmarks import time_to_solve

    _log("B3: time to a mean evaluation return of 475 (one seed per repetition)")
    # untimed warm-up of both (imports, first-use initialisation), so seed 0 is not penalised
    time_to_solve.maze_a2c(seed=1000)
    time_to_solve.sb3_a2c(seed=1000)
    results = alternate(
        {"maze": time_to_solve.maze_a2c, "sb3": time_to_solve.sb3_a2c},
        repetitions,
        _log,
    )
    return {
        "settings": time_to_solve.SETTINGS,
        "sb3_threads": time_to_solve.SB3_THREADS,
        "max_steps": time_to_solve.MAX_STEPS,
        "runs": {
            name: [
                {"solved": r.solved, "steps": r.steps, "wall": r.watch.wall, "final_return": r.final_return}
                for r in runs
            ]
            for name, runs in results.items()
        },
    }


def run_b4(repetitions: int, quick: bool) -> dict:
    from benchmarks import scaling

    steps = 4_000 if quick else 12_000
    _log(f"B4: local runner (2 workers) vs dev runner, env with ~1 ms CPU per step, {steps} env steps")
    results = alternate(
        {
            "dev_8_envs": lambda i: scaling.run("dev", 8, steps, seed=i),
            "local_8_envs_2_workers": lambda i: scaling.run("local", 8, steps, seed=i, n_workers=2),
            "dev_2_envs": lambda i: scaling.run("dev", 2, steps // 2, seed=i),
            "local_2_envs_2_workers": lambda i: scaling.run("local", 2, steps // 2, seed=i, n_workers=2),
        },
        repetitions,
        _log,
    )
    return {"steps": steps, "runs": report.stopwatches(results)}


def run_b8(repetitions: int, quick: bool) -> dict:
    from benchmarks import env_scaling

    # the same number of updates (at least) at every size: whole epochs of 100 updates of 5 steps
    epochs = {8: 4, 64: 2, 256: 2} if not quick else {8: 1, 64: 1, 256: 1}
    result: dict = {"steady": {}, "end_to_end": {}, "epochs": epochs, "busy_before": _busy()}
    for n_envs in env_scaling.N_ENVS:
        steps = epochs[n_envs] * 500 * n_envs
        _log(f"B8: {n_envs} envs, {steps} env steps per run (steady state)")
        # at 256 envs also gymnasium's own per-env stepping: the bound of every per-env path
        contenders = [*env_scaling.STEADY_CONTENDERS, *(["gym_loop"] if n_envs == 256 else [])]
        runs = alternate(
            {
                name: (lambda i, name=name, n=n_envs, s=steps: env_scaling.steady_state(name, n, s, seed=i))
                for name in contenders
            },
            repetitions,
            _log,
        )
        result["steady"][n_envs] = {"steps": steps, "runs": report.stopwatches(runs)}
        _log(f"B8: {n_envs} envs, {steps} env steps per fresh process (end to end)")
        runs = alternate(
            {
                name: (lambda i, name=name, n=n_envs, s=steps: env_scaling.end_to_end(name, n, s))
                for name in env_scaling.CONTENDERS
            },
            repetitions,
            _log,
        )
        result["end_to_end"][n_envs] = {"steps": steps, "runs": report.stopwatches(runs)}
    _log("B8: profile of the native path at 256 envs")
    result["profile"] = env_scaling.profile_update(256, updates=200 if quick else 1_000)
    _log(json.dumps(result["profile"], indent=2))
    result["busy_after"] = _busy()
    return result


def _busy() -> list[str]:
    """The processes using the most CPU right now (the machine is shared), as ``ps`` shows them."""
    import subprocess

    try:
        lines = subprocess.run(
            ["ps", "-eo", "pcpu,etime,comm", "--sort=-pcpu"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []
    return [" ".join(line.split()) for line in lines[1:7]]


def run_b5_b6(repetitions: int, quick: bool) -> dict:
    from benchmarks import startup

    _log("B5/B6: start-up, maze evaluate of the quickstart's run and the tutorial script (fresh processes)")
    startup.maze_plugins_list()  # warm the file system caches, as for any command run twice
    with scratch_dir() as directory:
        run_dir = startup.quickstart_run(directory)
        results = alternate(
            {
                "maze --help": startup.maze_help,
                "maze plugins list": startup.maze_plugins_list,
                startup.ONE_UPDATE_MAZE: startup.maze_one_update,
                startup.ONE_UPDATE_SB3: startup.sb3_one_update,
                startup.EVALUATE: lambda i: startup.maze_evaluate(run_dir, None),
                startup.EVALUATE_ONE_THREAD: lambda i: startup.maze_evaluate(run_dir, "1"),
                "tutorial": startup.tutorial,
            },
            max(repetitions, 5) if not quick else repetitions,
            _log,
        )
    return {
        "runs": {
            name: [{"seconds": r.seconds, "peak_rss_mib": r.peak_rss_mib} for r in runs]
            for name, runs in results.items()
        }
    }


def run_b7(repetitions: int, quick: bool) -> dict:
    import functools

    from maze_ray.testing import isolate_network

    from benchmarks import distributed
    from benchmarks.busy_env import make_busy_cartpole
    from maze_core.env import GymMazeEnv

    isolation = isolate_network()
    _log(f"B7: network: {isolation or 'a private network namespace, loopback only'}")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    busy, cartpole = (1_000, 4_000) if quick else (8_000, 20_000)
    _log(f"B7: ray runner vs dev runner; {busy} env steps on the ~1 ms env, {cartpole} on CartPole-v1")
    results = alternate(
        {
            "busy_dev_4_envs": lambda i: distributed.train(make_busy_cartpole, "dev", busy, seed=i),
            "busy_ray_2_workers": lambda i: distributed.train(make_busy_cartpole, "ray", busy, seed=i),
            "busy_ray_1_worker_2_envs": lambda i: distributed.train(
                make_busy_cartpole, "ray", busy // 2, seed=i, n_envs=2, n_workers=1
            ),
            "cartpole_dev_4_envs": lambda i: distributed.train("CartPole-v1", "dev", cartpole, seed=i),
            "cartpole_ray_2_workers": lambda i: distributed.train("CartPole-v1", "ray", cartpole, seed=i),
        },
        repetitions,
        _log,
    )
    _log("B7: the parts of one update")
    costs = {
        "busy": distributed.update_costs(make_busy_cartpole),
        "cartpole": distributed.update_costs(functools.partial(GymMazeEnv, "CartPole-v1")),
    }
    _log(json.dumps(costs, indent=2))
    return {
        "busy_steps": busy,
        "cartpole_steps": cartpole,
        "network": f"not isolated: {isolation}"
        if isolation
        else "a private network namespace, loopback only",
        "runs": report.stopwatches(results),
        "costs": costs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Maze's benchmarks (B1-B10; L2 on request).")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated, e.g. B1,B5")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="short runs, to check that all works")
    parser.add_argument("--output", type=Path, help="write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only write the report of results saved with --json"
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        results = json.loads(args.render.read_text())
        text = report.render(results, command=results.get("command", "benchmarks/run.sh"))
        (args.output or ROOT / "docs" / "benchmarks.md").write_text(text)
        return
    selected = [name.strip().upper() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(ALL) - set(SEPARATE))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {', '.join(ALL + SEPARATE)}")
    if "L2" in selected:
        run_l2()  # writes its own results (benchmarks/results/l2.json) and section
        selected.remove("L2")
        if not selected:
            return
    output = args.output
    if output is None and set(selected) == set(ALL) and not args.quick:
        output = ROOT / "docs" / "benchmarks.md"

    command = " ".join(["benchmarks/run.sh", *(argv if argv is not None else sys.argv[1:])])
    results = {"machine": machine(), "repetitions": args.repetitions, "quick": args.quick, "command": command}
    _log(json.dumps(results["machine"], indent=2))
    runners = {
        "B1": run_b1, "B2": run_b2, "B3": run_b3, "B4": run_b4, "B8": run_b8, "B9": run_b9, "B10": run_b10,
    }  # fmt: skip
    for name in selected:
        if name in runners:
            load_before = _load()
            results[name] = runners[name](args.repetitions, args.quick)
            results[name]["load"] = {"before": load_before, "after": _load()}
    if "B5" in selected or "B6" in selected:
        load_before = _load()
        results["B5_B6"] = run_b5_b6(args.repetitions, args.quick)
        results["B5_B6"]["load"] = {"before": load_before, "after": _load()}
    if "B7" in selected:  # last: it may move this process into a network namespace
        load_before = _load()
        results["B7"] = run_b7(args.repetitions, args.quick)
        results["B7"]["load"] = {"before": load_before, "after": _load()}

    text = report.render(results, command=command)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if output is not None:
        output.write_text(text)
        _log(f"wrote {output}")


if __name__ == "__main__":
    main()

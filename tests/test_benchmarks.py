"""The benchmark suite (``benchmarks/``, not part of the tests) imports, its minimal A2C loop runs
and its report renders. The benchmarks themselves run with ``benchmarks/run.sh``."""

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MODULES = [
    "run",
    "common",
    "throughput",
    "minimal_a2c",
    "time_to_solve",
    "scaling",
    "startup",
    "report",
    "busy_env",
    "distributed",
    "learning",
    "env_scaling",
    "native_floor",
    "export_latency",
]


def runs(rate):
    """Three repetitions of a benchmark run at ``rate`` env steps per second (wall and CPU)."""
    return [{"steps": 1000, "wall": 1000 / rate, "cpu": 1000 / rate}] * 3


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.mark.parametrize("name", MODULES)
def test_modules_import(name):
    importlib.import_module(f"benchmarks.{name}")


def test_the_minimal_loop_runs():
    from benchmarks.minimal_a2c import MinimalA2C

    agent = MinimalA2C(n_envs=2, n_steps=5)
    agent.learn(30)
    assert agent.steps == 30
    agent.close()


def test_the_native_floor_runs():
    from benchmarks.native_floor import measure

    result = measure(n_envs=4, updates=3)
    assert result["total"] == pytest.approx(result["rollout"] + result["update"])
    assert result["env_steps_per_cpu_second"] > 0


def test_the_busy_env_costs_cpu_time():
    import time

    from benchmarks.busy_env import BusyWrapper, make_busy_cartpole

    env = make_busy_cartpole()
    env.reset(seed=0)
    assert isinstance(env.env, BusyWrapper)
    start = time.thread_time()
    env.step({"action": 0})
    assert time.thread_time() - start >= 0.001


def test_the_report_renders_targets():
    from benchmarks import report, startup

    results = {
        "machine": {"cpu": "test"},
        "repetitions": 3,
        "quick": True,
        "B1": {
            "steps": 1000,
            "config": {
                k: v for k, v in importlib.import_module("benchmarks.throughput").B1.items() if k != "env"
            },
            "runs": {"maze": runs(150), "sb3": runs(100), "sb3_1_thread": runs(100), "minimal": runs(160)},
        },
        "B5_B6": {
            "runs": {
                "maze plugins list": [{"seconds": 0.3, "peak_rss_mib": 30}] * 3,
                startup.EVALUATE: [{"seconds": 3.3, "peak_rss_mib": 320}] * 3,
                startup.EVALUATE_ONE_THREAD: [{"seconds": 3.0, "peak_rss_mib": 320}] * 3,
                "tutorial": [{"seconds": 9.0, "peak_rss_mib": 300}] * 3,
            }
        },
    }
    text = report.render(results, command="benchmarks/run.sh")
    assert "with `OMP_NUM_THREADS=1` set by hand | 1.10 (1.10-1.10)x its time | **not met**" in text
    assert "| B1: ours >= 1.5x Stable-Baselines3 | 1.50 (1.50-1.50)x" in text
    assert "0.94 (0.94-0.94)x | **met**" in text
    assert "9.00 (9.00-9.00) s (peak RSS 300 (300-300) MiB) | **not met**" in text


def test_the_ray_scaling_model_matches_its_formula():
    from benchmarks.distributed import scaling_model

    costs = {
        "envs_per_worker": 2,
        "n_rollout_steps": 100,
        "ray_rollout_1_workers_ms": 101.0,  # t_rollout = 101 - c(1) = 100 ms
        "worker_1_step_ms": 1.0,
        "ray_collect_1_step_1_workers_ms": 2.0,  # c(1) = 1 ms
        "ray_collect_1_step_2_workers_ms": 3.0,  # c(2) = 2 ms: 1 ms more per worker
        "learner_update_ms": {"2": 10.0, "4": 12.0, "8": 16.0, "16": 24.0},  # 10 ms + 1 ms per env over 2
    }
    (row,) = scaling_model(costs, worker_counts=(4,))
    # T(4) = t_rollout + c(4) + t_learn(8) = 100 + 4 + 16 ms; 4 workers x 2 envs x 100 steps per update
    assert row["update_ms"] == pytest.approx(120.0)
    assert row["steps_per_second"] == pytest.approx(800 / 0.120)
    assert row["steps_per_second_prefetch"] == pytest.approx(800 / 0.104)  # max(100 + 4, 16)


def test_the_ray_benchmark_report_renders_from_its_saved_results():
    import json

    from benchmarks import report

    results = json.loads((ROOT / "benchmarks" / "results" / "b7.json").read_text())
    text = report.render(results, command=results["command"])
    assert "| B7: ray runner with 2 workers >= 1.4x the dev runner (~1 ms env) |" in text
    assert "## B7: the ray runner" in text and "| 32 |" in text


def test_the_learning_report_renders_held_out_results():
    from benchmarks import learning

    def run(library, seed, final, reached):
        return {
            "task": "ppo/CartPole-v1",
            "library": library,
            "seed": seed,
            "final_return": final,
            "best_return": max(final, 480.0),
            "solved": True,
            "steps_to_threshold": reached,
            "seconds_to_threshold": reached and reached / 1000,
        }

    results = {
        "command": "python -m benchmarks.learning",
        "machine": {"cpu": "test"},
        "date": "today",
        "stop_at_threshold": False,
        "runs": [run("maze", 0, 500.0, 20_000), run("maze", 1, 400.0, None), run("sb3", 0, 450.0, 40_000)],
    }
    text = learning.render_section(results)
    assert text.startswith(learning.SECTION)
    assert "| ours | 2 | 450.0 ± 70.7 | 490.0 ± 14.1 | 2/2 | not reached | not reached |" in text
    assert "| Stable-Baselines3 | 1 | 450.0 | 480.0 | 1/1 | 40,000 | 40.0 |" in text


def test_the_report_renders_b8():
    from benchmarks import report

    def section(per_env, native, sb3):
        return {
            "steps": 1000,
            "runs": {
                "maze_per_env": runs(per_env),
                "maze_native": runs(native),
                "sb3": runs(sb3),
                "minimal": runs(sb3),
            },
        }

    sizes = {8: section(150, 300, 100), 64: section(150, 300, 100), 256: section(60_000, 300_000, 50_000)}
    sizes[256]["runs"]["gym_loop"] = runs(70_000)
    # the floor runs in steady state only
    steady = {n: {**s, "runs": {**s["runs"], "native_floor": runs(250_000)}} for n, s in sizes.items()}
    profile = {
        "n_envs": 256,
        "updates": 10,
        "env_steps_per_second": 3e5,
        "ms_per_update": {"rollout": 2.0, "total per update (rollout + update)": 4.0},
    }
    results = {
        "machine": {"cpu": "test"},
        "repetitions": 3,
        "quick": True,
        "B8": {"steady": steady, "end_to_end": sizes, "profile": profile},
    }
    text = report.render(results, command="benchmarks/run.sh --only B8")
    assert "| B8: per-env path >= 1.5x Stable-Baselines3 at 8 envs | 1.50 (1.50-1.50)x; by CPU" in text
    assert "| B8: native path >= 5x Stable-Baselines3 at 256 envs | 6.00 (6.00-6.00)x; by CPU" in text
    assert "| B8: native path >= 250,000 env steps/s on one core at 256 envs (steady state" in text
    assert "| 300000 (300000-300000) env steps per CPU second" in text
    assert "| B8: per-env path within 15% of gymnasium's own per-env stepping at 256 envs | 0.86" in text
    assert "| rollout | 2.000 | 50% |" in text
    # the hand-written floor: a column of the steady-state tables and a target, not in end-to-end ones
    assert "| B8: native path at least level with the hand-written floor at 256 envs (steady) | 1.20" in text
    assert text.count("| hand-written native floor |") == 2


def test_the_report_renders_b9_at_scale():
    from benchmarks import report, throughput

    def section(per_env, native, sb3):
        return {
            "steps": 1000,
            "runs": {"maze_per_env": runs(per_env), "maze_native": runs(native), "sb3": runs(sb3)},
        }

    b9 = {
        "steps": 1000,
        "config": {k: v for k, v in throughput.B9.items() if k != "env"},
        "runs": {"maze": runs(160), "sb3": runs(100), "sb3_1_thread": runs(100)},
        "scaling": {8: section(150, 160, 100), 64: section(150, 250, 100), 256: section(120, 290, 100)},
    }
    results = {"machine": {"cpu": "test"}, "repetitions": 3, "quick": True, "B9": b9}
    text = report.render(results, command="benchmarks/run.sh --only B9")
    assert (
        "| B9: native path >= 3x Stable-Baselines3 PPO at 256 envs (steady state) | 2.90 (2.90-2.90)x" in text
    )
    assert "**not met**" in text.split("B9: native path >= 3x")[1].split("\n")[0]
    assert "| 256 | 1000 | 120 (120-120) | 290 (290-290) | 100 (100-100) | 1.20 (1.20-1.20) | 2.90" in text

"""The ray runner end to end, through RunContext, on the session's 2-node Ray cluster (conftest.py):
learning, a worker killed with ``kill -9``, a node removed mid-run, an env that raises."""

from __future__ import annotations

import json

import pytest
from processes import parent, wait_until_gone

from maze_core import RunContext

pytestmark = pytest.mark.ray


def ray_run(cluster, run_dir, env="CartPole-v1", silent=True, **overrides) -> RunContext:
    """A2C on the ray runner: 2 workers of 2 envs (one CPU each) on ``cluster``."""
    return RunContext(
        env=env,
        algorithm="a2c",
        runner="ray",
        run_dir=run_dir,
        seed=0,
        silent=silent,
        overrides={
            "runner.address": cluster.address,
            "runner.n_workers": 2,
            "runner.rollout_timeout_s": 60.0,
            "algorithm.patience": 0,
            **overrides,
        },
    )


def worker_pids(runner) -> list[int]:
    import ray

    return [ray.get(worker.describe.remote(), timeout=60)["pid"] for worker in runner.workers]


def raylet_pid(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def epoch_stats(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def test_a2c_learns_cartpole_with_a_worker_on_each_node(two_nodes, tmp_path):
    rc = ray_run(two_nodes, tmp_path / "run")
    rc.train(n_epochs=1)
    pids = worker_pids(rc.runner)
    nodes = [two_nodes.head_node, *two_nodes.worker_nodes]
    assert sorted(parent(pid) for pid in pids) == sorted(raylet_pid(node) for node in nodes)
    rc.train(n_epochs=7)
    rc.close()
    assert not wait_until_gone(pids), "the workers were not shut down"
    assert rc.evaluate(n_episodes=8)["episode_return_mean"] > 150

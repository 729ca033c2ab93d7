"""``maze tune`` with its trials as Ray tasks, on the session's 2-node cluster (loopback only)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # about 15 s: Ray workers import torch
pytest.importorskip("optuna")


def test_trials_run_as_ray_tasks_spread_over_the_nodes(two_nodes, tmp_path):
    import ray
    from maze_tune import tune

    tiny = {
        "algorithm.n_epochs": 2,
        "algorithm.epoch_length": 1,
        "algorithm.n_rollout_steps": 8,
        "runner.n_envs": 1,
        "runner.eval_episodes": 1,
        "runner.n_eval_envs": 1,
    }
    result = tune(
        "CartPole-v1",
        {"algorithm.lr": "loguniform:1e-4:1e-2"},
        overrides=tiny,
        trials=2,
        seeds=1,
        jobs=2,
        ray="auto",  # the connected driver: the test's cluster
        study_dir=tmp_path,
        silent=True,
    )
    assert [trial.state for trial in result.trials] == ["complete", "complete"]
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(nodes) == 2
    assert {trial.node for trial in result.trials} == nodes  # one trial on each node
    assert all((trial.run_dir / "seed-0" / "config.json").exists() for trial in result.trials)
    assert ray.is_initialized()  # a connection tune did not make is left as it was

"""``RunContext.from_run_dir``: a run rebuilt from its config.json, as ``maze evaluate`` and
``maze train --resume`` use it."""

from __future__ import annotations

import json

import pytest
import torch

from maze_core import GymMazeEnv, RunContext
from maze_core.errors import ConfigurationError

QUICK = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 16,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
}


def epochs(run_dir) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def make_cartpole():
    return GymMazeEnv("CartPole-v1")


def test_a_run_from_names_is_rebuilt_with_its_best_model_and_continues_training(tmp_path):
    with RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path, seed=5, silent=True) as rc:
        rc.train(n_epochs=2, target_return=1000.0)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["arguments"]["env"] == "CartPole-v1" and config["target_return"] == 1000.0

    with RunContext.from_run_dir(tmp_path, overrides={"algorithm.n_epochs": 3}, silent=True) as loaded:
        assert (loaded.seed, loaded.algorithm.epoch_length, loaded.algorithm.n_epochs) == (5, 2, 3)
        best = torch.load(tmp_path / "state_dict.pt", weights_only=True)["policies"]
        loaded_weights = loaded.policy.state_dict()["policies"]
        for network, state in best.items():
            assert all(torch.equal(loaded_weights[network][name], tensor) for name, tensor in state.items())
        assert loaded.evaluate(n_episodes=2)["episode_count"] == 2
        loaded.train()  # up to n_epochs
    assert epochs(tmp_path) == [1, 2, 3]


def test_a_run_set_up_with_python_objects_cannot_be_rebuilt(tmp_path):
    with RunContext(env=make_cartpole, overrides=QUICK, run_dir=tmp_path, seed=0, silent=True) as rc:
        rc.train(n_epochs=1)
    recorded = json.loads((tmp_path / "config.json").read_text())["arguments"]
    assert recorded["env"] == {"__object__": f"{__name__}.make_cartpole"}
    with pytest.raises(ConfigurationError, match=r"set up with Python objects \(env=.*make_cartpole\)"):
        RunContext.from_run_dir(tmp_path)


def test_a_run_without_a_finished_epoch_or_config_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="it has no config.json"):
        RunContext.from_run_dir(tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        RunContext.from_run_dir(tmp_path / "missing")
    (tmp_path / "config.json").write_text(json.dumps({"seed": 0, "arguments": {"env": "CartPole-v1"}}))
    with pytest.raises(ConfigurationError, match="has not finished an epoch yet"):
        RunContext.from_run_dir(tmp_path)


def test_policy_before_training_needs_a_resumed_run():
    with pytest.raises(ConfigurationError, match="after train"):
        _ = RunContext(env="CartPole-v1").policy

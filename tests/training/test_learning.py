"""Long learning runs (``pytest -m slow``): A2C solves CartPole-v1 on three seeds.

The budget each seed took is written to docs/training.md ("Learning CartPole").
"""

import json

import pytest

from maze_core import RunContext

# the tuned CartPole settings of docs/training.md and scripts/quickstart.sh
TUNED = {
    "algorithm.gamma": 0.99,
    "algorithm.lr": 0.0007,
    "algorithm.n_rollout_steps": 20,
    "algorithm.epoch_length": 10,
    "algorithm.patience": 0,
    "runner.n_envs": 8,
}


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [TUNED, {"algorithm.patience": 0}], ids=["tuned", "seed-defaults"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a2c_reaches_a_mean_deterministic_return_of_475(seed, overrides, tmp_path):
    rc = RunContext(
        env="CartPole-v1", algorithm="a2c", overrides=overrides, seed=seed, run_dir=tmp_path, silent=True
    )
    rc.train(n_epochs=30, target_return=475)
    rc.close()
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert max(line["eval"]["episode_return_mean"] for line in lines) >= 475
    print(f"seed {seed}: {len(lines)} epochs, {int(lines[-1]['algorithm']['env_steps'])} env steps")
    # the best policy, evaluated on new episodes, is as good as its selection promised
    assert rc.evaluate(n_episodes=8)["episode_return_mean"] >= 400

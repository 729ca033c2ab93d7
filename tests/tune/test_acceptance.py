"""The study docs/tune.md shows: A2C on CartPole-v1 over lr and gamma, 12 trials of 2 seeds, 2 at a
time. It must prune a trial, and the best configuration, trained again with ``maze train --config``
on a seed no trial used, must beat the worst trial. Its wall time goes into docs/tune.md."""

from __future__ import annotations

import time

import pytest
from shell import maze

from maze_core.run_dir import read_stats

optuna = pytest.importorskip("optuna")

#: each run: 6 epochs of 50 updates of 8 envs x 8 steps (19,200 env steps), 4 evaluation episodes
RUN = [
    *("--set", "runner.n_envs=8", "--set", "algorithm.n_rollout_steps=8"),
    *("--set", "algorithm.epoch_length=50", "--set", "algorithm.n_epochs=6"),
    *("--set", "runner.eval_episodes=4", "--set", "algorithm.patience=0"),
]
PARAMS = [
    *("--param", "algorithm.lr=loguniform:1e-5:1e-1"),
    *("--param", "algorithm.gamma=uniform:0.9:0.9999"),
]


@pytest.mark.slow
def test_a_12_trial_study_prunes_and_its_best_configuration_beats_its_worst_trial(tmp_path):
    study_dir = tmp_path / "study"
    start = time.monotonic()
    result = maze(
        *("tune", "--env", "CartPole-v1", *PARAMS, *RUN),
        *("--trials", "12", "--seeds", "2", "--jobs", "2", "--sampler-seed", "0"),
        *("--study-dir", study_dir),
        timeout=1800,
    )
    minutes = (time.monotonic() - start) / 60
    print(f"\n12 trials of 2 seeds, 2 at a time: {minutes:.1f} min\n{result.stdout}")
    study = optuna.load_study(study_name="maze", storage=f"sqlite:///{study_dir / 'study.db'}")
    states = [trial.state.name for trial in study.trials]
    assert len(states) == 12 and "PRUNED" in states, states
    values = [trial.value for trial in study.trials if trial.state.name == "COMPLETE"]

    maze("train", "--config", study_dir / "best.json", "--seed", "1000", "--run-dir", tmp_path / "best")
    retrained = max(line["eval"]["episode_return_mean"] for line in read_stats(tmp_path / "best"))
    print(f"best configuration retrained on seed 1000: {retrained:.1f}; trials: {sorted(values)}")
    assert retrained > min(values)

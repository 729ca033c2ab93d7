"""``maze tune`` (the plugin maze-tune): a short study end to end, its files, continuing it,
diverging trials, and the one-line errors for a bad search space. Long studies: test_acceptance.py."""

from __future__ import annotations

import json
import math

import gymnasium
import pytest
from safety_support import cli, one_line_error

from maze_core import hookimpl, plugins
from maze_core.errors import ConfigurationError
from maze_core.run_dir import read_stats

pytest.importorskip("optuna")
from maze_tune import tune  # noqa: E402

#: runs of one short epoch: the study's machinery, not learning, is under test
TINY = {
    "algorithm.n_epochs": 1,
    "algorithm.epoch_length": 1,
    "algorithm.n_rollout_steps": 8,
    "runner.n_envs": 1,
    "runner.eval_episodes": 1,
    "runner.n_eval_envs": 1,
}
SPACE = {"algorithm.lr": "loguniform:1e-4:1e-2", "algorithm.gamma": "uniform:0.9:0.999"}


def test_a_study_runs_its_trials_writes_its_results_and_continues_when_tuned_again(tmp_path):
    study_dir = tmp_path / "study"
    result = tune("CartPole-v1", SPACE, overrides=TINY, trials=1, seeds=2, study_dir=study_dir, silent=True)

    [trial] = result.trials
    assert (trial.number, trial.state, set(trial.params)) == (0, "complete", set(SPACE))
    # each seed a normal run directory, seeded 0 and 1; the value is the mean of their best returns
    runs = sorted(path.name for path in trial.run_dir.iterdir())
    assert runs == ["seed-0", "seed-1"]
    best = [
        max(line["eval"]["episode_return_mean"] for line in read_stats(trial.run_dir / run)) for run in runs
    ]
    assert trial.returns == best and trial.value == pytest.approx(sum(best) / 2)
    assert result.best == trial
    config = json.loads(result.best_config.read_text())
    assert config["arguments"]["overrides"] == {**TINY, **trial.params}
    assert result.history_plot.read_bytes().startswith(b"\x89PNG")

    # maze train --config trains with the best trial's settings (a fresh seed unless given)
    trained = cli("train", "--config", result.best_config, "--seed", "5", "--run-dir", tmp_path / "best")
    assert trained.exit_code == 0, trained.output
    recorded = json.loads((tmp_path / "best" / "config.json").read_text())
    assert recorded["arguments"]["overrides"] == config["arguments"]["overrides"]
    assert recorded["seed"] == 5

    # the same call with more trials continues the study (its storage is on disk) ...
    more = tune("CartPole-v1", SPACE, overrides=TINY, trials=2, seeds=2, study_dir=study_dir, silent=True)
    assert [trial.number for trial in more.trials] == [0, 1]
    assert more.trials[0] == trial
    # ... and other settings are refused
    with pytest.raises(ConfigurationError, match=r"tunes other settings \(its space differ"):
        tune("CartPole-v1", {"algorithm.lr": "uniform:0.001:0.01"}, overrides=TINY, study_dir=study_dir)


class NaNReward(gymnasium.Wrapper):
    def step(self, action):
        observation, _, terminated, truncated, info = self.env.step(action)
        return observation, math.nan, terminated, truncated, info


class NaNPlugin:
    @hookimpl
    def register_envs(self, register):
        register("nan-reward-v0", lambda: NaNReward(gymnasium.make("CartPole-v1")))


def test_a_diverging_trial_is_pruned_and_the_study_goes_on(tmp_path):
    plugins.register(NaNPlugin(), name="nan-reward")
    try:
        result = tune(
            "nan-reward-v0", SPACE, overrides=TINY, trials=2, seeds=1, study_dir=tmp_path, silent=True
        )
    finally:
        plugins.unregister("nan-reward")
    assert [trial.state for trial in result.trials] == ["pruned", "pruned"]
    assert "diverged with seed 0: the loss became nan" in result.trials[0].reason
    assert result.best is None and result.best_config is None


QUICK = ("--env", "CartPole-v1", "--trials", "1")


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        ((), ["the search space is empty", "--param algorithm.lr=loguniform:1e-4:1e-2"]),
        (("--param", "algorithm.lrr=uniform:0.1:0.2"), ["has no field 'lrr'. Did you mean 'lr'?"]),
        (("--param", "algorithm.lr=logunifrm:1e-4:1e-2"), ["unknown distribution 'logunifrm'"]),
        (("--param", "algorithm.lr=loguniform:1e-4"), ["write it as loguniform:LOW:HIGH"]),
        (("--param", "algorithm.lr=loguniform:0:1"), ["LOW must be > 0 for loguniform"]),
        (("--param", "algorithm.lr=uniform:0.2:0.1"), ["LOW must be below HIGH"]),
        (("--param", "algorithm.lr=uniform:a:b"), ["LOW and HIGH must be numbers"]),
        (("--param", "algorithm.epoch_length=uniform:1:5"), ["epoch_length must be an integer, got '1.0'"]),
        (("--param", "model.activation=categorical:"), ["give the choices"]),
        (("--param", "algorithm.gamma=uniform:0.9:1.5"), ["parameter algorithm.gamma=1.5:", "gamma"]),
        (("--param", "algorithm.lr"), ["write it as SECTION.FIELD=DISTRIBUTION"]),
        (("--param", "algorithm.lr=uniform:0.1:0.2", "--set", "algorithm.lr=0.1"), ["both set and tuned"]),
        (("--param", "algorithm.lr=uniform:0.1:0.2", "--pruner", "mean"), ["pruner='mean' is unknown"]),
    ],
)
def test_a_bad_search_space_is_a_one_line_error(arguments, fragments, tmp_path):
    one_line_error(cli("tune", *QUICK, "--study-dir", tmp_path, *arguments), *fragments)
    assert list(tmp_path.iterdir()) == []  # refused before the study was created


def test_a_search_space_file_is_yaml_or_json(tmp_path):
    from maze_tune.space import read_space_file

    (tmp_path / "space.yaml").write_text("# CartPole\nalgorithm.lr: loguniform:1e-4:1e-2\n")
    (tmp_path / "space.json").write_text('{"algorithm.lr": "loguniform:1e-4:1e-2"}')
    for name in ("space.yaml", "space.json"):
        assert read_space_file(tmp_path / name) == {"algorithm.lr": "loguniform:1e-4:1e-2"}
    (tmp_path / "list.yaml").write_text("- algorithm.lr\n")
    one_line_error(
        cli("tune", *QUICK, "--space", tmp_path / "list.yaml"), "one 'SECTION.FIELD: DISTRIBUTION'"
    )


def test_maze_lists_the_plugin_command():
    assert "tune" in cli("--help").output
    tune_plugin = next(info for info in plugins.plugins() if info.distribution == "maze-tune")
    assert tune_plugin.provides == {"command": ["tune"]}


def test_an_optuna_distribution_is_a_parameter_as_it_is():
    from maze_tune.space import field_names, search_space
    from optuna.distributions import FloatDistribution

    lr = FloatDistribution(1e-4, 1e-2, log=True)
    names = field_names({"algorithm": "a2c", "policy": None, "critic": None, "runner": "dev"})
    assert search_space({"algorithm.lr": lr}, names) == {"algorithm.lr": lr}


def test_a_config_file_that_maze_train_cannot_use_is_a_one_line_error(tmp_path):
    one_line_error(cli("train", "--config", tmp_path / "none.json"), "--config", "no such file")
    (tmp_path / "list.json").write_text("[1]")
    one_line_error(cli("train", "--config", tmp_path / "list.json"), "it holds no settings")
    (tmp_path / "empty.json").write_text("{}")
    one_line_error(cli("train", "--config", tmp_path / "empty.json"), "does not record the run's arguments")

"""Presets (tuned settings per env, chosen by name) and the warning when training diverges."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from shell import maze

from maze_core import RunContext, plugins
from maze_core.errors import ConfigurationError
from maze_core.presets import presets_of
from maze_core.training.divergence import DivergenceWatch

DOCS = Path(__file__).resolve().parents[2] / "docs" / "presets.md"
#: a preset's run made short: one rollout of 8 steps on one env, one evaluation episode
SHORT = {
    "algorithm.epoch_length": 1,
    "algorithm.n_rollout_steps": 8,
    "runner.n_envs": 1,
    "runner.eval_episodes": 1,
    "runner.n_eval_envs": 1,
}
SHIPPED = [
    (algorithm, preset)
    for algorithm in ("a2c", "ppo", "dqn", "sac")
    for preset in presets_of(plugins.load("algorithm", algorithm))
]


def test_a_preset_sets_its_settings_under_the_users_and_the_run_records_them(tmp_path, capsys):
    rc = RunContext(
        env="Pendulum-v1",
        algorithm="ppo",
        preset="zoo",
        overrides={**SHORT, "algorithm.n_minibatches": 1, "algorithm.lr": 5e-4},
        run_dir=tmp_path / "run",
        seed=0,
    )
    assert (rc.algorithm.gamma, rc.algorithm.n_update_passes, rc.algorithm.lr) == (0.9, 10, 5e-4)
    rc.train(n_epochs=1)
    banner = capsys.readouterr().out
    assert (
        "\nPreset zoo for Pendulum-v1 (rl-baselines3-zoo, hyperparams/ppo.yml):\n  model.hidden_units=[64,64]"
        in banner
    )
    preset_lines = banner.split("\nRun directory")[0].splitlines()
    assert "algorithm.gamma=0.9" in banner and max(len(line) for line in preset_lines) <= 80
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["preset"]["name"] == "zoo" and config["preset"]["settings"]["algorithm.gamma"] == 0.9
    assert config["policy"]["hidden_units"] == [64, 64] and config["algorithm"]["lr"] == 5e-4
    # rebuilt from its directory with the settings it was trained with
    again = RunContext.from_run_dir(tmp_path / "run", silent=True)
    assert (again.algorithm.gamma, again.algorithm.lr, again.runner.n_envs) == (0.9, 5e-4, 1)
    assert again.preset.settings["algorithm.gamma"] == 0.9  # kept for its banner and config.json
    again.close()


def test_a_training_length_of_the_users_replaces_the_presets():
    assert RunContext(env="CartPole-v1", algorithm="ppo", preset="zoo").algorithm.n_epochs == 10
    epochs = RunContext(env="CartPole-v1", algorithm="ppo", preset="zoo", overrides={"algorithm.n_epochs": 3})
    assert epochs.algorithm.n_epochs == 3
    if "n_env_steps" not in attrs.fields_dict(type(epochs.algorithm)):
        pytest.skip("no budget in env steps")
    steps = RunContext(
        env="CartPole-v1", algorithm="ppo", preset="zoo", overrides={"algorithm.n_env_steps": 5000}
    )
    assert (steps.algorithm.n_epochs, steps.algorithm.n_env_steps) == (0, 5000)


def test_without_a_preset_the_banner_names_the_ones_the_env_has(tmp_path, capsys):
    RunContext(env="Pendulum-v1", algorithm="ppo", overrides=SHORT, run_dir=tmp_path / "run", seed=0).train(1)
    assert "Settings: the algorithm's defaults (tuned for Pendulum-v1: --preset zoo)" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"env": "Pendulum-v1", "preset": "best"},
            "algorithm 'ppo' has no preset 'best' for env 'Pendulum-v1'; ",
        ),
        (
            {"env": "LunarLander-v3", "preset": "zoo"},
            "; its preset 'zoo' is for Acrobot-v1, CartPole-v1, Pendulum-v1",
        ),
        ({"env": lambda: None, "preset": "zoo"}, "preset='zoo' picks tuned settings by the env's name"),
    ],
)
def test_an_unknown_preset_is_a_one_line_error(kwargs, message):
    with pytest.raises(ConfigurationError) as error:
        RunContext(algorithm="ppo", **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(("algorithm", "preset"), SHIPPED, ids=lambda p: getattr(p, "env", p))
def test_every_shipped_preset_builds_and_is_verified_in_the_docs(algorithm, preset):
    rc = RunContext(env=preset.env, algorithm=algorithm, preset=preset.name, silent=True)
    assert rc.algorithm.n_epochs > 0  # a preset states its budget
    assert f"| `{algorithm}` | {preset.env} |" in DOCS.read_text()


def test_the_divergence_watch_warns_once_per_statistic():
    from maze_ppo import PPOAlgorithmConfig

    watch = DivergenceWatch(PPOAlgorithmConfig(lr=1e-3))
    assert watch.check(1, {"approx_kl": 0.02, "value_loss": 0.004, "policy_loss": -0.5}) == []
    # 0.004 is measured from the floor 0.01: 9.9 is below 1000 x 0.01, 10.5 above
    assert watch.check(2, {"approx_kl": 0.1, "value_loss": 9.9, "policy_loss": -400.0}) == []
    lines = watch.check(3, {"approx_kl": 0.6, "value_loss": 10.5, "policy_loss": float("nan")})
    assert lines == [
        "Warning: approx_kl is 0.6 in epoch 3 (above 0.1): the policy changes too much per update: lower "
        "algorithm.lr or algorithm.n_update_passes, or set algorithm.target_kl (e.g. 0.02); tuned settings: "
        "--preset zoo where the env has them (docs/presets.md)",
        "Warning: value_loss grew from 0.004 in epoch 1 to 10.5 in epoch 3: training diverges; lower "
        "algorithm.lr (now 0.001) or clip gradients (algorithm.max_grad_norm); tuned settings: --preset zoo "
        "where the env has them (docs/presets.md)",
        "Warning: policy_loss is nan in epoch 3: training diverges; lower algorithm.lr (now 0.001) or clip "
        "gradients (algorithm.max_grad_norm); tuned settings: --preset zoo where the env has them "
        "(docs/presets.md)",
    ]
    assert watch.check(4, {"approx_kl": 9.0, "value_loss": 1e6}) == []  # once per statistic


def test_a_run_whose_policy_jumps_warns_on_the_console(tmp_path, capsys):
    overrides = {**SHORT, "algorithm.lr": 0.5}
    rc = RunContext(env="CartPole-v1", algorithm="ppo", overrides=overrides, run_dir=tmp_path / "run", seed=0)
    rc.train(n_epochs=1)
    output = " ".join(capsys.readouterr().out.split())  # the console wraps at its width
    assert "Warning: approx_kl is " in output
    assert "(above 0.1): the policy changes too much per update" in output


@pytest.mark.slow
def test_ppo_learns_pendulum_with_its_preset_within_its_budget(tmp_path):
    """Issue 22's done-when: the shipped settings reach -400 on fresh episodes within the budget."""
    run_dir = tmp_path / "run"
    maze("train", "--env", "Pendulum-v1", "--algorithm", "ppo", "--preset", "zoo", "--seed", "0",
         "--run-dir", run_dir, timeout=1800)  # fmt: skip
    steps = json.loads((run_dir / "stats.jsonl").read_text().splitlines()[-1])["algorithm"]["env_steps"]
    assert steps <= 102_400
    held_out = json.loads(maze("evaluate", run_dir, "--episodes", "20", "--json").stdout)
    assert held_out["episode_return_mean"] >= -400

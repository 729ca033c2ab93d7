"""A run's length in env steps (``train(n_env_steps=...)``, ``maze train --steps``), what more epochs
or steps mean on a resumed run, and callbacks inside training."""

from __future__ import annotations

import json

import pytest
from shell import maze

from maze_core import RunContext
from maze_core.errors import ConfigurationError, UnknownNameError
from maze_core.training.callbacks import Callback, StopTraining

#: 2 envs x 10 steps = 20 env steps an iteration, 4 iterations an epoch
TINY = {
    "algorithm.epoch_length": 4,
    "algorithm.n_rollout_steps": 10,
    "runner.n_envs": 2,
    "runner.native_vector_env": False,  # every iteration exactly 20 env steps
    "runner.eval_episodes": 1,
}
TINY_CLI = [item for key, value in TINY.items() for item in ("--set", f"{key}={value}")]


def stats_lines(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def test_a_budget_in_env_steps_ends_with_the_iteration_that_reaches_it_and_more_adds_to_it(tmp_path):
    with RunContext(env="CartPole-v1", overrides=TINY, run_dir=tmp_path, seed=0, silent=True) as rc:
        summary = rc.train(n_env_steps=190)  # 2 epochs of 80, then 2 of the 4 iterations of epoch 3
        assert (summary.epochs, summary.env_steps) == (3, 200)
        assert [line["algorithm"]["env_steps"] for line in stats_lines(tmp_path)] == [80, 160, 200]
        assert rc.train(n_env_steps=40).env_steps == 240  # more, as train(n_epochs=...) counts epochs
        assert rc.train(n_epochs=1).epochs == 5
    recorded = json.loads((tmp_path / "config.json").read_text())
    assert recorded["algorithm"]["n_env_steps"] == 190  # the length the first call planned


def test_every_first_party_algorithm_has_a_finite_default_budget_in_env_steps():
    from maze_a2c import A2CAlgorithmConfig
    from maze_dqn.config import DQNAlgorithmConfig
    from maze_ppo import PPOAlgorithmConfig
    from maze_sac.config import SACAlgorithmConfig

    lengths = [config().training_length() for config in (A2CAlgorithmConfig, PPOAlgorithmConfig)]
    lengths += [config().training_length() for config in (DQNAlgorithmConfig, SACAlgorithmConfig)]
    assert lengths == [(0, 200_000), (0, 100_000), (0, 50_000), (0, 20_000)]
    assert PPOAlgorithmConfig(n_epochs=3).training_length() == (3, 0)  # epochs instead
    assert PPOAlgorithmConfig(n_env_steps=0).training_length() == (0, 0)  # no limit
    with pytest.raises(ConfigurationError, match="n_epochs=3 and n_env_steps=5 both set the training length"):
        PPOAlgorithmConfig(n_epochs=3, n_env_steps=5)
    with pytest.raises(ConfigurationError, match="calls it n_env_steps"):
        PPOAlgorithmConfig(total_timesteps=100_000)


def test_the_cli_takes_steps_as_sb3_users_write_them(tmp_path):
    """(``--resume --epochs N`` adding N: tests/cli/test_train_evaluate.py)"""
    run_dir = tmp_path / "run"
    first = maze("train", "--env", "CartPole-v1", "--steps", "0.15k", "--run-dir", run_dir, *TINY_CLI)
    assert "Budget: 150 env steps\n" in first.stdout
    assert [line["algorithm"]["env_steps"] for line in stats_lines(run_dir)] == [80, 160]
    both = maze("train", "--env", "CartPole-v1", "--steps", "1e5", "--epochs", "3", check=False)
    assert both.returncode == 1
    assert both.stderr == "Error: give the training length once: --epochs or --steps\n"


def test_the_default_budget_is_said_and_a_resumed_run_that_used_it_says_so(tmp_path, capsys):
    with RunContext(env="CartPole-v1", overrides=TINY, run_dir=tmp_path, seed=0) as rc:
        rc.train(target_return=0)  # stops after the first epoch
    assert "Budget: 200,000 env steps (a2c's default)\n" in capsys.readouterr().out
    with RunContext.from_run_dir(tmp_path, overrides={"algorithm.n_epochs": 1}) as resumed:
        assert resumed.train().epochs == 1
    assert "Nothing to train: the run has used its budget (1 epoch, 80 env steps)." in capsys.readouterr().out


class Recorder(Callback):
    def __init__(self, stop_at_epoch: int | None = None, stop_at_update: int | None = None):
        self.events, self.updates = [], []
        self.stop_at_epoch, self.stop_at_update = stop_at_epoch, stop_at_update

    def on_train_start(self, run):
        self.events.append(("start", run.epoch, run.env_steps, run.config["seed"]))

    def on_update(self, env_steps, stats):
        self.updates.append((env_steps, sorted(stats)))
        if len(self.updates) == self.stop_at_update:
            raise StopTraining

    def on_epoch_end(self, epoch, stats):
        self.events.append(
            ("epoch", epoch, stats["algorithm"]["env_steps"], stats["eval"]["episode_return_mean"])
        )
        if epoch == self.stop_at_epoch:
            raise StopTraining("enough")

    def on_train_end(self, error):
        self.events.append(("end", type(error).__name__ if error else None))


def test_callbacks_see_each_update_and_epoch_and_can_stop_the_run(tmp_path, capsys):
    recorder = Recorder(stop_at_epoch=2)
    with RunContext(env="CartPole-v1", overrides=TINY, run_dir=tmp_path, seed=7) as rc:
        summary = rc.train(n_epochs=5, callbacks=[recorder])
    assert summary.epochs == 2 and "A callback stopped training: enough" in capsys.readouterr().out
    lines = stats_lines(tmp_path)
    assert recorder.events == [
        ("start", 0, 0, 7),
        *(
            ("epoch", line["epoch"], line["algorithm"]["env_steps"], line["eval"]["episode_return_mean"])
            for line in lines
        ),
        ("end", None),
    ]
    assert [steps for steps, _ in recorder.updates] == [20 * i for i in range(1, 9)]
    assert recorder.updates[0][1] == [
        "critic_grad_norm",
        "entropy",
        "policy_grad_norm",
        "policy_loss",
        "value",
        "value_loss",
    ]


def test_a_stop_after_an_update_ends_that_epoch_and_an_interrupt_reaches_on_train_end(tmp_path):
    recorder = Recorder(stop_at_update=2)
    with RunContext(env="CartPole-v1", overrides=TINY, run_dir=tmp_path, seed=0, silent=True) as rc:
        summary = rc.train(n_epochs=3, callbacks=recorder)
        assert (summary.epochs, summary.env_steps) == (1, 40)  # evaluated and checkpointed as usual

        class Interrupting(Callback):
            def on_epoch_end(self, epoch, stats):
                raise KeyboardInterrupt

        ending = Recorder()
        with pytest.raises(KeyboardInterrupt):
            rc.train(n_epochs=3, callbacks=[Interrupting(), ending])
    assert ending.events[-1] == ("end", "KeyboardInterrupt")


def test_callbacks_are_checked_before_anything_is_built(tmp_path):
    rc = RunContext(env="CartPole-v1", run_dir=tmp_path / "run", silent=True)
    with pytest.raises(UnknownNameError, match="wandb"):
        rc.train(callbacks=["wandbb"])
    with pytest.raises(ConfigurationError, match="callbacks takes Callback instances"):
        rc.train(callbacks=[print])
    with pytest.raises(ConfigurationError, match="give the training length once"):
        rc.train(n_epochs=1, n_env_steps=100)
    assert not (tmp_path / "run").exists()

"""What an algorithm author relies on besides the update itself: state of its own kept across
updates and checkpoints, statistics reduced as it says, optional config fields validated with the
public helper, valid_only of one tensor, and what RunContext.train() returns."""

from __future__ import annotations

import json
from typing import ClassVar

import attrs
import pytest
import torch
from maze_a2c import A2C, A2CAlgorithmConfig

from maze_core import RunContext, TrainingSummary, hookimpl, plugins
from maze_core.errors import ConfigurationError
from maze_core.training.config import optional, positive_float

QUICK = {
    "algorithm.epoch_length": 3,
    "algorithm.n_rollout_steps": 4,
    "runner.n_envs": 2,
    "runner.eval_episodes": 1,
}


class CountingA2C(A2C):
    """A2C that counts its updates (algorithm state of its own) and reports the count's last value
    and the largest value loss of the epoch."""

    statistics_reduction: ClassVar[dict[str, str]] = {"updates_so_far": "last", "value_loss": "max"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updates_so_far = 0
        self.value_losses = []

    def update(self, rollout, critic_only=False):
        stats = super().update(rollout, critic_only)
        self.updates_so_far += 1
        self.value_losses.append(stats["value_loss"])
        return {**stats, "updates_so_far": self.updates_so_far}

    def state_dict(self):
        return {**super().state_dict(), "updates_so_far": self.updates_so_far}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.updates_so_far = state["updates_so_far"]


@attrs.define(kw_only=True)
class CountingConfig(A2CAlgorithmConfig):
    trainer_class: ClassVar[str] = f"{__name__}:CountingA2C"
    target_value: float | None = attrs.field(default=None, validator=optional(positive_float))


class CountingPlugin:
    @hookimpl
    def register_algorithms(self, register):
        register("counting-a2c", CountingConfig)


@pytest.fixture
def counting():
    plugins.register(CountingPlugin(), name="counting")
    yield
    plugins.unregister("counting")


def test_algorithm_state_and_statistics_reductions_survive_a_checkpoint(counting, tmp_path):
    with RunContext(
        env="CartPole-v1", algorithm="counting-a2c", overrides=QUICK, run_dir=tmp_path, silent=True
    ) as run:
        summary = run.train(2)
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [line["algorithm"]["updates_so_far"] for line in lines] == [3, 6]  # the last, not the mean
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["updates_so_far"] == 6
    with RunContext(
        env="CartPole-v1",
        algorithm="counting-a2c",
        overrides=QUICK,
        run_dir=tmp_path,
        resume=True,
        silent=True,
    ) as run:
        run.train(1)
    last = json.loads((tmp_path / "stats.jsonl").read_text().splitlines()[-1])
    assert last["algorithm"]["updates_so_far"] == 9
    assert isinstance(summary, TrainingSummary)
    assert (summary.epochs, summary.env_steps, summary.run_dir) == (
        2,
        lines[-1]["algorithm"]["env_steps"],
        tmp_path,
    )
    assert summary.best_return == max(line["eval"]["episode_return_mean"] for line in lines)


def test_a_max_reduction_reports_the_largest_value(counting, tmp_path):
    with RunContext(
        env="CartPole-v1", algorithm="counting-a2c", overrides=QUICK, run_dir=tmp_path, silent=True
    ) as run:
        run.train(1)
        losses = run._trainer.value_losses
    line = json.loads((tmp_path / "stats.jsonl").read_text())
    assert len(set(losses)) == 3 and line["algorithm"]["value_loss"] == pytest.approx(max(losses))


def test_an_unknown_reduction_is_refused_when_the_trainer_is_built(counting, tmp_path, monkeypatch):
    monkeypatch.setattr(CountingA2C, "statistics_reduction", {"updates_so_far": "median"})
    with (
        RunContext(
            env="CartPole-v1", algorithm="counting-a2c", overrides=QUICK, run_dir=tmp_path, silent=True
        ) as run,
        pytest.raises(
            ConfigurationError, match="names 'median'; the reductions are mean, last, max, min, sum"
        ),
    ):
        run.train(1)


def test_optional_fields_are_validated_when_given():
    assert CountingConfig(target_value=None).target_value is None
    with pytest.raises(
        ConfigurationError, match="target_value=-1.0 is invalid: it must be a finite number > 0"
    ):
        CountingConfig(target_value=-1.0)


def test_valid_only_of_one_tensor_is_a_tensor():
    from maze_core.training.rollout import Rollout

    flags = torch.zeros(2, 2, dtype=torch.bool)
    rollout = Rollout({}, [], torch.zeros(2, 2), flags, flags, ~flags, None, None, torch.zeros(2, 2), flags)
    assert isinstance(rollout.valid_only(torch.ones(2, 2)), torch.Tensor)
    rollout.valid = torch.tensor([[True, False], [True, True]])
    assert rollout.valid_only(torch.arange(4.0).reshape(2, 2)).tolist() == [0.0, 2.0, 3.0]
    assert len(rollout.valid_only(torch.ones(2, 2), torch.ones(2, 2))) == 2


@pytest.mark.parametrize(
    ("algorithm", "overrides"),
    [
        ("a2c", {"algorithm.n_rollout_steps": 1}),
        ("ppo", {"algorithm.n_rollout_steps": 1, "algorithm.n_minibatches": 1}),
        ("ppo", {"algorithm.n_rollout_steps": 4, "algorithm.n_minibatches": 4}),
    ],
)
def test_rollouts_with_few_or_no_usable_transitions_never_crash(tmp_path, algorithm, overrides):
    """A native next-step env on one env: a one-step rollout right after an episode ends holds only
    the reset-only row (nothing to learn: the update is skipped), and a rollout of four steps may
    hold three usable transitions, fewer than four minibatches (PPO makes three)."""
    settings = {"runner.n_envs": 1, "runner.eval_episodes": 1, "algorithm.epoch_length": 40, **overrides}
    with RunContext(
        env="CartPole-v1", algorithm=algorithm, overrides=settings, run_dir=tmp_path, seed=0, silent=True
    ) as run:
        summary = run.train(2)
        trainer = run._trainer
    assert summary.epochs == 2
    n_rows = 2 * 40 * overrides["algorithm.n_rollout_steps"]
    episodes = sum(
        json.loads(line)["train"]["episode_count"]
        for line in (tmp_path / "stats.jsonl").read_text().splitlines()
    )
    # one reset-only row follows each finished episode (the last one's may fall after the run)
    assert episodes > 0 and n_rows - episodes <= trainer.env_steps <= n_rows - episodes + 1

"""Cases 3-5: --overwrite validates first and replaces only Maze runs; nothing is replaced without it."""

from __future__ import annotations

import json

import pytest
import torch
from safety_support import QUICK, QUICK_OVERRIDES, cli, one_line_error

from maze_core import RunContext
from maze_core.errors import MazeError


def snapshot(directory) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


def test_cli_overwrite_with_a_network_that_does_not_import_keeps_the_old_run(run_copy):
    before = snapshot(run_copy)
    result = cli(
        "train", "--env", "CartPole-v1", "--run-dir", run_copy, "--overwrite", *QUICK,
        "--set", 'policy.networks={"_target_": "no_such_module.Net"}',
    )  # fmt: skip
    one_line_error(result, "cannot import module 'no_such_module'")
    assert snapshot(run_copy) == before


@pytest.mark.parametrize(
    "networks",
    [{"_target_": "torch.nn.NoSuchNet"}, '{"_target_": "maze_core.perception.FlattenConcatPolicyNet"'],
    ids=["missing-class", "malformed-json"],
)
def test_python_overwrite_builds_everything_before_removing_the_old_run(run_copy, networks):
    before = snapshot(run_copy)
    overrides = {**QUICK_OVERRIDES, "policy.networks": networks}
    context = RunContext(
        env="CartPole-v1", overrides=overrides, run_dir=run_copy, overwrite=True, silent=True
    )
    with context, pytest.raises(MazeError):
        context.train(1)
    assert snapshot(run_copy) == before


def test_overwrite_replaces_a_maze_run_once_the_new_one_is_built(run_copy):
    (run_copy / "notes.txt").write_text("mine")
    with RunContext(
        env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=run_copy, overwrite=True, seed=9, silent=True
    ) as context:
        context.train(1)
    assert json.loads((run_copy / "config.json").read_text())["seed"] == 9
    assert [json.loads(line)["epoch"] for line in (run_copy / "stats.jsonl").read_text().splitlines()] == [1]
    assert (run_copy / "notes.txt").read_text() == "mine"  # not a run file: never removed


def test_overwrite_refuses_a_directory_that_is_not_a_maze_run(tmp_path):
    own = tmp_path / "mine"
    own.mkdir()
    (own / "config.json").write_text('{"learning_rate": 0.1}')
    (own / "stats.jsonl").write_text('{"my": "numbers"}\n')
    torch.save({"weights": torch.ones(2)}, own / "state_dict.pt")
    before = snapshot(own)
    result = cli("train", "--env", "CartPole-v1", "--run-dir", own, "--overwrite", *QUICK)
    one_line_error(result, "is not a Maze run", "--overwrite only replaces Maze runs")
    with pytest.raises(MazeError, match="is not a Maze run"):
        RunContext(env="CartPole-v1", run_dir=own, overwrite=True)
    assert snapshot(own) == before


def test_a_directory_with_run_files_but_no_config_is_refused_without_overwrite(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"my own checkpoint")
    result = cli("train", "--env", "CartPole-v1", "--run-dir", tmp_path, *QUICK)
    one_line_error(result, "holds a run already", "--overwrite")
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"my own checkpoint"
    assert not (tmp_path / "stats.jsonl").exists()


def test_python_refuses_to_train_into_an_existing_run_without_resume_or_overwrite(run_copy):
    best = (run_copy / "state_dict.pt").read_bytes()
    with pytest.raises(MazeError, match="holds a run already.*resume=True.*overwrite=True"):
        RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=run_copy)
    assert (run_copy / "state_dict.pt").read_bytes() == best

"""Case 8: every user error is one line (``Error: ...``, exit code 1) naming the file or value."""

from __future__ import annotations

import datetime
import errno
import json
import os
import shutil
import subprocess

import pytest
import torch
from safety_support import QUICK, QUICK_OVERRIDES, WrongShapeEnv, cli, one_line_error
from shell import MAZE, clean_env

from maze_core import RunContext
from maze_core.errors import MazeError


def edit_config(run_dir, edit):
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("below", [False, True], ids=["file", "below-a-file"])
def test_a_run_dir_that_is_or_lies_below_a_file(tmp_path, below):
    (tmp_path / "a-file").write_text("mine")
    run_dir = tmp_path / "a-file" / "run" if below else tmp_path / "a-file"
    result = cli("train", "--env", "CartPole-v1", "--run-dir", run_dir, *QUICK)
    one_line_error(result, "a-file", "is a file, not a directory")
    assert (tmp_path / "a-file").read_text() == "mine"


@pytest.mark.parametrize("seed", ["-1", str(2**70)])
def test_a_seed_out_of_range(seed, tmp_path):
    result = cli("train", "--env", "CartPole-v1", "--seed", seed, "--run-dir", tmp_path / "run", *QUICK)
    one_line_error(result, f"seed={seed} is invalid: it must be an integer in [0, 2**32 - 1]")


def test_truncated_best_model_names_the_last_good_checkpoint(run_copy):
    path = run_copy / "state_dict.pt"
    path.write_bytes(path.read_bytes()[:1000])
    message = one_line_error(cli("evaluate", run_copy), f"{path} is damaged: ")
    assert f"the last good checkpoint is {run_copy / 'checkpoint.pt'} (epoch 1)" in message
    path.unlink()  # as the message says
    assert cli("train", "--resume", run_copy, "--epochs", "2").exit_code == 0
    assert cli("evaluate", run_copy, "--episodes", "1").exit_code == 0


def test_empty_checkpoint_names_the_best_model(run_copy):
    (run_copy / "checkpoint.pt").write_bytes(b"")
    message = one_line_error(cli("train", "--resume", run_copy, "--epochs", "2"), "checkpoint.pt is damaged")
    assert f"the last good checkpoint is {run_copy / 'state_dict.pt'} (the best model)" in message


def test_a_damaged_statistics_line_is_one_line_error_for_resume_and_plot(run_copy):
    path = run_copy / "stats.jsonl"
    path.write_text(path.read_text() + '{"epoch": 2, "train": \n')  # an edit cut short
    for command in (
        ("train", "--resume", run_copy, "--epochs", "3"),
        ("plot", run_copy, "-o", run_copy / "c.png"),
    ):
        one_line_error(cli(*command), f"{path} is damaged: line 2 is not JSON")
    path.write_text(path.read_text().splitlines(keepends=True)[0])  # remove the line, as it says
    assert cli("train", "--resume", run_copy, "--epochs", "2").exit_code == 0


def test_a_pickled_object_is_refused_as_damaged_not_run(run_copy):
    torch.save(datetime.datetime(2020, 1, 1), run_copy / "state_dict.pt")  # not weights: needs unpickling
    one_line_error(cli("evaluate", run_copy), "state_dict.pt is damaged: UnpicklingError")


def test_foreign_weights_do_not_fit(run_copy):
    torch.save({"policies": {"0": {"weight": torch.ones(3)}}}, run_copy / "state_dict.pt")
    one_line_error(cli("evaluate", run_copy), "state_dict.pt does not fit this run's networks")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda config: config.pop("seed"), "seed=None is invalid: it must be an integer in [0, 2**32 - 1]"),
        (lambda config: config["arguments"].update(overrides="lr=1"), "arguments.overrides must be dict"),
        (lambda config: config["arguments"].update(env=7), "arguments.env must be str, got 7"),
        (lambda config: config["arguments"].update(colour="red"), "arguments.colour is not a RunContext"),
        (lambda config: config.update(target_return="high"), "target_return='high' is invalid"),
    ],
    ids=["missing-seed", "overrides-not-a-dict", "env-not-a-string", "unknown-argument", "target-text"],
)
def test_a_config_with_missing_keys_or_wrong_types(run_copy, edit, message):
    edit_config(run_copy, edit)
    one_line_error(cli("train", "--resume", run_copy, "--epochs", "2"), "config.json: ", message)


def test_an_override_of_the_wrong_type_in_config_json(run_copy):
    overrides = {"policy.substeps_with_separate_agent_nets": 5}
    edit_config(run_copy, lambda config: config["arguments"]["overrides"].update(overrides))
    one_line_error(
        cli("evaluate", run_copy),
        "the policy composer 'probabilistic' cannot be built with policy.substeps_with_separate_agent_nets=5",
    )


def test_evaluating_or_resuming_after_the_env_changed(run_copy):
    edit_config(run_copy, lambda config: config["arguments"].update(env="Acrobot-v1"))
    one_line_error(cli("evaluate", run_copy), "state_dict.pt does not fit this run's networks")
    one_line_error(cli("train", "--resume", run_copy, "--epochs", "2"), "checkpoint.pt does not fit")


def test_a_full_disk_keeps_the_last_good_files(run_copy, monkeypatch):
    before = {name: (run_copy / name).read_bytes() for name in ("state_dict.pt", "checkpoint.pt")}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # every write fails as on a full disk, when it is flushed
    message = one_line_error(cli("train", "--resume", run_copy, "--epochs", "3"), "No space left on device")
    assert "free some space" in message
    assert {name: (run_copy / name).read_bytes() for name in before} == before
    assert not list(run_copy.glob(".*maze-tmp"))


def test_a_read_only_file_system(tmp_path):
    run_dir = tmp_path / "read-only"
    run_dir.mkdir()
    command = [*MAZE, "train", "--env", "CartPole-v1", "--run-dir", str(run_dir / "run"), *QUICK]
    if os.geteuid() == 0:  # root writes anywhere: mount the directory read-only in a namespace of its own
        if not shutil.which("unshare"):
            pytest.skip("needs unshare to mount a read-only directory as root")
        mount = f"mount --bind {run_dir} {run_dir} && mount -o remount,ro,bind {run_dir} {run_dir}"
        command = ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"', "sh", *command]
    else:
        run_dir.chmod(0o555)
    result = subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=120)
    if "mount" in result.stderr and "Error: " not in result.stderr:
        pytest.skip(f"cannot mount read-only here: {result.stderr.strip()}")
    one_line_error(result, f"cannot create {run_dir / 'run'}: ")


def test_an_observation_of_the_wrong_shape(tmp_path):
    with RunContext(env=WrongShapeEnv, overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as context:
        with pytest.raises(MazeError) as error:
            context.train(1)
    message = str(error.value)
    assert "returned observation 'observation' of shape (5,)" in message and "says shape (4,)" in message
    assert "\n" not in message


def test_a_target_return_of_the_wrong_type_fails_before_training(tmp_path):
    with RunContext(env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as context:
        with pytest.raises(MazeError, match="target_return='high' is invalid: it must be a finite number"):
            context.train(1, target_return="high")
    assert not (tmp_path / "stats.jsonl").exists()

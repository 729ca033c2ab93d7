"""Run files that are not what Maze wrote: hard links, FIFOs, statistics and configs of the wrong
shape. Each is refused with one line, and nothing outside the run is written or removed."""

from __future__ import annotations

import json
import os

import pytest
from safety_support import cli, one_line_error
from shell import maze

from maze_core.training.rollout import available_memory


def test_a_hard_link_at_the_lock_file_is_never_written_into(run_copy, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("VICTIM CONTENT")
    os.link(victim, run_copy / ".maze.lock")
    one_line_error(
        cli("train", "--resume", run_copy, "--epochs", "2"),
        ".maze.lock is a hard link to another file",
        "remove the link",
    )
    assert victim.read_text() == "VICTIM CONTENT"
    assert (run_copy / ".maze.lock").exists()  # not Maze's file: left where it is


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("stats.jsonl", ("train", "--resume", "{run}", "--epochs", "2")),
        ("stats.jsonl", ("train", "--env", "CartPole-v1", "--run-dir", "{run}", "--overwrite")),
        ("stats.jsonl", ("plot", "{run}", "-o", "{run}/../curve.svg")),
        ("checkpoint.pt", ("evaluate", "{run}")),
        ("state_dict.pt", ("evaluate", "{run}")),
        ("config.json", ("evaluate", "{run}")),
        (".maze.lock", ("train", "--resume", "{run}", "--epochs", "2")),
    ],
)
def test_a_fifo_at_a_run_file_is_refused_without_opening_it(run_copy, name, command):
    (run_copy / name).unlink(missing_ok=True)
    os.mkfifo(run_copy / name)
    # a subprocess with a timeout: a reader that opens the FIFO would block forever
    result = maze(*(arg.format(run=run_copy) for arg in command), check=False, timeout=120)
    one_line_error(result, f"{name} is a FIFO (named pipe), not a regular file")
    assert (run_copy / name).is_fifo()  # not Maze's file: not removed either


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2]", "line 2 is not a JSON object but list"),
        ('{"x": 1}', "line 2 has no epoch number (epoch=None)"),
        ('{"epoch": "abc"}', "line 2 has no epoch number (epoch='abc')"),
        (
            '{"epoch": 2, "time": 1.0, "eval": {"episode_return_mean": "high"}}',
            "eval.episode_return_mean='high'",
        ),
        ('{"epoch": 2, "time": 1.0, "eval": 7}', "eval=7, which is not an object of statistics"),
        ('{"epoch": 2, "time": "noon"}', "time='noon', which is not a number"),
        ("[" * 100_000 + "]" * 100_000, "line 2 is not JSON (it nests deeper than 64 levels)"),
    ],
)
def test_statistics_of_the_wrong_shape_are_one_line_errors(run_copy, tmp_path, line, problem):
    with (run_copy / "stats.jsonl").open("a") as file:
        file.write(line + "\n")
    for command in (("plot", run_copy, "-o", tmp_path / "curve.svg"), ("train", "--resume", run_copy)):
        one_line_error(cli(*command), "stats.jsonl is damaged", problem, "remove the line")


def test_statistics_that_are_not_utf8(run_copy, tmp_path):
    with (run_copy / "stats.jsonl").open("ab") as file:
        file.write(b'{"epoch": 2, "note": "\xff\xfe"}\n')
    for command in (("plot", run_copy, "-o", tmp_path / "curve.svg"), ("train", "--resume", run_copy)):
        one_line_error(cli(*command), "stats.jsonl is damaged: it is not UTF-8 text")


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def edit_config(run_dir, edit) -> None:
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    path.write_text(edit(config) if callable(edit) else edit)


@pytest.mark.parametrize(
    "config",
    [
        deep(100_000),  # the whole file
        lambda config: json.dumps(config)[:-1] + f', "notes": {deep(100_000)}}}',  # one field
    ],
    ids=["file", "field"],
)
def test_a_config_nested_100000_deep(run_copy, tmp_path, config):
    edit_config(run_copy, config)
    for command, message in [
        (("evaluate", run_copy), "config.json is damaged: it is not valid JSON (it nests deeper than 64"),
        (("plot", run_copy, "-o", tmp_path / "c.svg"), "config.json is damaged"),
        (("train", "--resume", run_copy), "config.json is damaged"),
        (("train", "--env", "CartPole-v1", "--run-dir", run_copy, "--overwrite"), "is not a Maze run"),
    ]:
        one_line_error(cli(*command), message)


@pytest.mark.parametrize("field", ["arguments", "overrides"])
def test_plot_of_a_config_whose_arguments_are_a_list(run_copy, tmp_path, field):
    def edit(config):
        if field == "arguments":
            config["arguments"] = ["CartPole-v1"]
        else:
            config["arguments"]["overrides"] = ["algorithm.lr=0.1"]
        return json.dumps(config)

    edit_config(run_copy, edit)
    name = "arguments" if field == "arguments" else "arguments.overrides"
    one_line_error(cli("plot", run_copy, "-o", tmp_path / "c.svg"), f"config.json: {name} must be an object")


@pytest.mark.parametrize(
    ("wrappers", "entry"),
    [
        ([["maze_core.env.wrappers.LogStatsWrapper"]], "['maze_core.env.wrappers.LogStatsWrapper']"),
        ([5], "5"),
    ],
)
def test_wrappers_of_the_wrong_type(run_copy, wrappers, entry):
    def edit(config):
        config["arguments"]["wrappers"] = wrappers
        return json.dumps(config)

    edit_config(run_copy, edit)
    one_line_error(cli("evaluate", run_copy), f"wrappers entry {entry}: give a Wrapper subclass")


def test_an_a2c_checkpoint_does_not_resume_as_ppo(run_copy):
    edit_config(
        run_copy,
        lambda config: json.dumps({**config, "arguments": {**config["arguments"], "algorithm": "ppo"}}),
    )
    one_line_error(
        cli("train", "--resume", run_copy, "--epochs", "2"),
        "checkpoint.pt cannot be used: it was written by the trainer maze_a2c.trainer.A2C",
        "maze_ppo.trainer.PPO",
    )


def first_weight(state):
    """The first floating-point tensor in a nested state dict."""
    import torch

    if isinstance(state, torch.Tensor):
        return state if state.is_floating_point() else None
    for value in state.values() if isinstance(state, dict) else ():
        found = first_weight(value)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize(("name", "command"), [("state_dict.pt", "evaluate"), ("checkpoint.pt", "train")])
def test_weights_that_are_nan_are_refused(run_copy, name, command):
    import torch

    state = torch.load(run_copy / name, weights_only=True)
    first_weight(state["policies"] if name == "state_dict.pt" else state["model"]).fill_(float("nan"))
    torch.save(state, run_copy / name)
    args = (
        ("evaluate", run_copy) if command == "evaluate" else ("train", "--resume", run_copy, "--epochs", "2")
    )
    one_line_error(cli(*args), f"{name} is damaged", "holds NaN or infinite values")


HUGE_NETWORK = {"_target_": "maze_core.perception.FlattenConcatPolicyNet", "hidden_units": [60000, 60000]}
#: a machine with this much memory could hold the huge network 5 times over: nothing to refuse there
bigger_than_the_network = pytest.mark.skipif(
    (available_memory() or 0) > 80 * 2**30,
    reason="this machine has room for 5 copies of a 14.4 GB network",
)


@bigger_than_the_network
def test_networks_too_large_for_the_machine_are_refused_before_allocation(run_copy):
    import resource

    def edit(config):
        config["arguments"]["overrides"]["policy.networks"] = HUGE_NETWORK
        return json.dumps(config)

    edit_config(run_copy, edit)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = maze("evaluate", run_copy, check=False, timeout=120)
    one_line_error(result, "the policy and critic networks have 3,600,", "using them needs about", "GiB")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert max(before, peak_kib) < 2 * 2**20, "the 14.4 GB network was allocated"  # KiB


@bigger_than_the_network
def test_training_networks_too_large_for_the_machine(tmp_path):
    from maze_core import RunContext
    from maze_core.errors import ConfigurationError

    with (
        RunContext(
            env="CartPole-v1",
            overrides={"policy.networks": HUGE_NETWORK},
            run_dir=tmp_path / "run",
            silent=True,
        ) as context,
        pytest.raises(ConfigurationError, match="training them needs about 67.1 GiB"),
    ):
        context.train(1)

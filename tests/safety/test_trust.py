"""Case 1: rebuilding a run from its config.json never runs code the run directory names."""

from __future__ import annotations

import json
import sys

import pytest
from safety_support import QUICK, QUICK_OVERRIDES, cli, one_line_error

from maze_core import RunContext
from maze_core.errors import ConfigurationError

HUBCONF = """\
import pathlib
pathlib.Path({marker!r}).write_text("code from the run directory ran")

def model(**kwargs):
    import torch
    return torch.nn.Linear(4, 2)
"""


def set_override(run_dir, key, value):
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    config["arguments"]["overrides"][key] = value
    path.write_text(json.dumps(config))


def plant_hub_loader(run_dir, marker):
    """The issue's exploit: a hubconf.py in the run dir, loaded through torch.hub.load."""
    (run_dir / "hubconf.py").write_text(HUBCONF.format(marker=str(marker)))
    target = {"_target_": "torch.hub.load", "repo_or_dir": str(run_dir), "model": "model", "source": "local"}
    set_override(run_dir, "policy.networks", target)


def test_maze_evaluate_refuses_a_hub_loader_named_by_config_json(run_copy, tmp_path):
    plant_hub_loader(run_copy, tmp_path / "pwned")
    result = cli("evaluate", run_copy)
    one_line_error(result, "names policy network for step key 0 (torch.hub.load)", "--trust-run-dir")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("use", ["policy", "train"])
def test_from_run_dir_refuses_a_hub_loader_before_it_runs(run_copy, tmp_path, use):
    plant_hub_loader(run_copy, tmp_path / "pwned")
    with RunContext.from_run_dir(run_copy, silent=True) as context:
        with pytest.raises(
            ConfigurationError, match=r"policy network .*\(torch.hub.load\).* not a torch.nn.Module"
        ):
            _ = context.policy if use == "policy" else context.train(1)
    assert not (tmp_path / "pwned").exists()


def test_a_module_in_the_run_directory_is_never_imported(run_copy, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    (run_copy / "evil_nets.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nNet = None\n")
    set_override(run_copy, "policy.networks", {"_target_": "evil_nets.Net"})
    monkeypatch.syspath_prepend(str(run_copy))  # as `python -m` does when the run dir is the cwd
    with pytest.raises(ConfigurationError, match="'evil_nets' is not an installed package"):
        _ = RunContext.from_run_dir(run_copy, silent=True).policy
    assert not marker.exists()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "policy.networks",
            {"_target_": "maze_core.perception.FlattenConcatPolicyNet", "non_lin": "subprocess.Popen"},
            "activation 'subprocess.Popen'.* not a torch.nn.Module subclass",
        ),
        ("policy.networks", "os.system", r"\(os.system\).* not a torch.nn.Module subclass"),
    ],
)
def test_only_classes_of_the_expected_kind_are_loaded(run_copy, key, value, message):
    set_override(run_copy, key, value)
    with pytest.raises(ConfigurationError, match=message):
        _ = RunContext.from_run_dir(run_copy, silent=True).policy


def test_a_wrapper_named_by_config_json_must_be_a_wrapper_class(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["arguments"]["wrappers"] = ["subprocess.Popen"]
    (run_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ConfigurationError, match="wrapper 'subprocess.Popen'.* not a maze_core.*Wrapper subclass"
    ):
        RunContext.from_run_dir(run_copy, silent=True)


def test_installed_network_classes_load_without_trust(tmp_path):
    networks = {"_target_": "maze_core.perception.FlattenConcatPolicyNet", "non_lin": "torch.nn.ReLU"}
    overrides = {**QUICK_OVERRIDES, "policy.networks": networks}
    with RunContext(env="CartPole-v1", overrides=overrides, run_dir=tmp_path, silent=True) as context:
        context.train(1)
    with RunContext.from_run_dir(tmp_path, silent=True) as loaded:
        assert loaded.evaluate(n_episodes=1)["episode_count"] == 1


def test_own_code_loads_only_with_trust_run_dir(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(
        "from maze_core.perception import FlattenConcatPolicyNet\n\n"
        "class MyNet(FlattenConcatPolicyNet):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # as `python -m` does for the current directory
    run_dir = tmp_path / "own"
    own = ["--set", 'policy.networks={"_target_": "my_nets.MyNet"}']
    assert (
        cli("train", "--env", "CartPole-v1", "--epochs", "1", "--run-dir", run_dir, *QUICK, *own).exit_code
        == 0
    )
    monkeypatch.delitem(sys.modules, "my_nets")  # as in a new process
    refused = cli("evaluate", run_dir)
    one_line_error(refused, "(my_nets.MyNet)", "'my_nets' is not an installed package", "--trust-run-dir")
    assert "my_nets" not in sys.modules  # refused before it was imported
    assert cli("evaluate", run_dir, "--episodes", "1", "--trust-run-dir").exit_code == 0

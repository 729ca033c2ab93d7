"""Case 1: rebuilding a run from its config.json never runs code the run directory names."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys

import gymnasium
import pytest
import torch
from safety_support import QUICK, QUICK_OVERRIDES, cli, one_line_error
from shell import maze, run

from maze_core import RunContext
from maze_core._imports import import_object, only_installed_code
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


EVIL_MODULE = """\
import pathlib
import torch
pathlib.Path({marker!r}).write_text("code from the run directory ran")

class Net(torch.nn.Module):
    pass
"""


def plant_in_namespace(directory, namespace, marker):
    """The report's exploit: ``<namespace>/evil.py`` where ``namespace`` is an installed namespace
    package (``google`` of protobuf, ``mpl_toolkits`` of matplotlib), which takes submodules from
    every sys.path entry; a check of the top-level package alone let it through."""
    assert importlib.util.find_spec(namespace).origin is None  # a namespace package: no __init__.py
    (directory / namespace).mkdir()
    (directory / namespace / "evil.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    return f"{namespace}.evil:Net"


@pytest.mark.parametrize("namespace", ["google", "mpl_toolkits"])
def test_a_namespace_package_in_the_run_directory_is_never_imported(
    run_copy, tmp_path, monkeypatch, namespace
):
    marker = tmp_path / "pwned"
    set_override(run_copy, "policy.networks", {"_target_": plant_in_namespace(run_copy, namespace, marker)})
    monkeypatch.chdir(run_copy)
    monkeypatch.syspath_prepend(str(run_copy))  # as `python -m maze_core evaluate .` does
    imported = importlib.import_module(namespace)  # as a library may have done by then
    assert str(run_copy / namespace) in list(imported.__path__)
    with pytest.raises(ConfigurationError, match=f"'{namespace}.evil' lies in the run directory"):
        _ = RunContext.from_run_dir(run_copy, silent=True).policy
    assert not marker.exists()
    assert f"{namespace}.evil" not in sys.modules


def test_python_m_maze_evaluate_in_the_run_directory_refuses_a_namespace_package(run_copy, tmp_path):
    marker = tmp_path / "pwned"
    set_override(run_copy, "policy.networks", {"_target_": plant_in_namespace(run_copy, "google", marker)})
    result = maze("evaluate", ".", cwd=run_copy, check=False, timeout=120)
    one_line_error(result, "config.json names policy network", "'google.evil' lies in the run directory")
    assert not marker.exists()


def test_a_namespace_package_in_the_current_directory_is_never_imported(run_copy, tmp_path, monkeypatch):
    """A run shipped in a folder that also holds the module, evaluated from that folder."""
    marker = tmp_path / "pwned"
    set_override(run_copy, "policy.networks", {"_target_": plant_in_namespace(tmp_path, "google", marker)})
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")  # as `python -c` and an interactive session do
    one_line_error(cli("evaluate", run_copy.name), "'google.evil' lies in the current directory")
    assert not marker.exists()
    assert "google.evil" not in sys.modules


@pytest.mark.parametrize("target", ["unittest.__main__:TestCase", "numpy.f2py.__main__:X"])
def test_a_programs_entry_point_is_never_imported(run_copy, tmp_path, monkeypatch, target):
    """Importing ``pkg.__main__`` runs the program: unittest's parsed Maze's arguments and exited 2,
    f2py's ran and ``maze evaluate`` exited 0 without evaluating."""
    monkeypatch.chdir(tmp_path)  # where such a program would write
    monkeypatch.setattr(sys, "argv", ["maze", "evaluate", str(run_copy)])  # what it would parse
    set_override(run_copy, "policy.networks", {"_target_": target})
    module = target.partition(":")[0]
    one_line_error(cli("evaluate", run_copy), f"'{module}' is a program's entry point (__main__)")
    assert module not in sys.modules


INSTALLED_CLASSES = [
    ("maze_core.perception.FlattenConcatPolicyNet", torch.nn.Module),
    ("torch.nn.ReLU", torch.nn.Module),
    ("torch.nn.modules.activation:Tanh", torch.nn.Module),
    ("maze.perception.models.built_in.flatten_concat.FlattenConcatPolicyNet", torch.nn.Module),
    ("gymnasium.spaces.Discrete", gymnasium.Space),
    ("gym.spaces.Discrete", gymnasium.Space),
    ("maze_policies.ProbabilisticPolicyComposer", object),  # editable installs, outside site-packages
    ("maze.perception.models.critics.SharedStateCriticComposer", object),
    ("google.protobuf.message:Message", object),  # in the namespace package the run directory extends
]


@pytest.mark.parametrize("cwd", ["project", "run directory"])
@pytest.mark.parametrize(("target", "kind"), INSTALLED_CLASSES)
def test_installed_classes_load_from_an_untrusted_run(run_copy, tmp_path, monkeypatch, target, kind, cwd):
    plant_in_namespace(run_copy, "google", tmp_path / "pwned")
    if cwd == "run directory":
        monkeypatch.chdir(run_copy)
        monkeypatch.syspath_prepend(str(run_copy))
    with only_installed_code(run_copy / "config.json"):
        assert issubclass(import_object(target, "class", kind=kind), kind)
    assert not (tmp_path / "pwned").exists()


def test_installed_classes_load_in_a_fresh_process_in_the_run_directory(run_copy, tmp_path):
    """Nothing imported yet: each module is found (the editable plugins by their installation's
    finder), checked and imported with the run directory as the current directory."""
    plant_in_namespace(run_copy, "google", tmp_path / "pwned")
    code = (
        "import sys\n"
        "from maze_core._imports import import_object, only_installed_code\n"
        "with only_installed_code('config.json'):\n"
        "    for target in sys.argv[1:]:\n"
        "        import_object(target, 'class', kind=object)\n"
    )
    run(sys.executable, "-c", code, *(target for target, _ in INSTALLED_CLASSES), cwd=run_copy, timeout=120)
    assert not (tmp_path / "pwned").exists()

"""Discovery of real, pip-installed plugin distributions (see tests/plugin_packages/)."""

from __future__ import annotations

import re
import sys

import pytest
import shell

from maze_core import plugins
from maze_core.errors import PluginError, UnknownNameError


def by_distribution() -> dict[str, plugins.PluginInfo]:
    return {info.distribution: info for info in plugins.plugins()}


def test_an_installed_plugin_is_found_and_its_targets_load_lazily(installed, monkeypatch):
    monkeypatch.setenv("MAZE_LOAD_PLUGINS", "maze-test-plugin")
    plugins.reload()
    info = by_distribution()["maze-test-plugin"]
    assert (info.version, info.status) == ("0.3.0", "ok")
    assert info.provides == {
        "env": ["test-corridor", "test-masked-corridor"],
        "distribution": ["test-uniform"],
    }
    assert {"test-corridor", "test-masked-corridor"} <= set(plugins.names("env"))
    assert "maze_test_plugin.envs" not in sys.modules

    make_env = plugins.load("env", "test-corridor")
    assert "maze_test_plugin.envs" in sys.modules
    assert plugins.load("env", "test-corridor") is make_env
    env = make_env()
    observation, _ = env.reset(seed=0)
    assert observation.tolist() == [0.0]
    assert plugins.load("distribution", "test-uniform").__name__ == "UniformDistribution"


def test_broken_plugins_are_reported_and_the_others_keep_working(installed):
    infos = by_distribution()
    broken = infos["maze-test-broken"]
    assert broken.status == "broken"
    assert broken.provides == {}
    assert broken.error == (
        "importing 'maze_test_broken.plugin' failed: "
        "ModuleNotFoundError: No module named 'maze_test_missing_dependency'"
    )
    assert isinstance(broken.exception, ModuleNotFoundError)

    hook_raises = infos["maze-test-hook-raises"]
    assert hook_raises.status == "broken"
    assert hook_raises.error == "hook register_devices raised RuntimeError: no test accelerator found"

    first_party = ("maze-a2c", "maze-ppo", "maze-policies", "maze-critics", "maze-runners", "maze-cuda")
    for name in ("maze-core", *first_party, "maze-ray"):
        assert infos[name].status == "ok", infos[name].error
    assert "a2c" in plugins.names("algorithm")
    assert plugins.load("distribution", "test-uniform").__name__ == "UniformDistribution"


def test_a_name_from_a_plugin_whose_hook_raised_names_the_plugin_and_its_error(installed):
    assert "test-hook-env" in plugins.names("env")
    with pytest.raises(PluginError) as error:
        plugins.load("env", "test-hook-env")
    message = str(error.value)
    assert "'maze-test-hook-raises', which is broken" in message
    assert "RuntimeError: no test accelerator found" in message
    assert isinstance(error.value.__cause__, RuntimeError)


def test_an_unknown_name_mentions_the_broken_plugins(installed):
    with pytest.raises(UnknownNameError) as error:
        plugins.load("env", "test-broken-env")
    message = str(error.value)
    assert "These plugins are broken and may provide it" in message
    assert "maze-test-broken (importing 'maze_test_broken.plugin' failed: ModuleNotFoundError" in message
    assert "maze-test-hook-raises (hook register_devices raised RuntimeError" in message


def test_a_name_claimed_by_two_plugins_lists_the_qualified_choices(installed):
    with pytest.raises(PluginError) as error:
        plugins.load("env", "test-corridor")
    assert str(error.value) == (
        "env 'test-corridor' is provided by more than one plugin; choose one by its qualified name: "
        "maze-test-clash:test-corridor, maze-test-plugin:test-corridor"
    )
    assert plugins.load("env", "maze-test-clash:test-corridor").__module__ == "maze_test_clash.envs"


def test_a_masked_policy_trains_evaluates_and_reloads_from_its_run_directory(installed, tmp_path):
    """A plugin's env whose observation carries an action mask, and which raises on any invalid
    action: training, ``maze evaluate`` (a fresh process) and ``RunContext.from_run_dir``."""
    from maze_core import RunContext

    run_dir = tmp_path / "run"
    maze = [sys.executable, "-m", "maze_core"]
    env = {**__import__("os").environ, "PYTHONPATH": str(installed), "COLUMNS": "200"}
    quick = ["--set", "algorithm.epoch_length=2", "--set", "algorithm.n_rollout_steps=16"]
    for command in (
        [*maze, "train", "--env", "test-masked-corridor", "--algorithm", "maze-ppo:ppo", "--epochs", "1",
         *quick, "--run-dir", str(run_dir)],
        [*maze, "evaluate", str(run_dir), "--episodes", "4"],
    ):  # fmt: skip
        result = shell.run(*command, env=env)
    assert re.search(r"total_episode_count\s+│\s+4 ", result.stdout), result.stdout
    with RunContext.from_run_dir(run_dir, silent=True) as rc:
        assert rc.evaluate(n_episodes=4)["episode_count"] == 4
        assert rc.compute_action({"observation": [4.0], "action_mask": [1, 0]}) in (0, {"action": 0})

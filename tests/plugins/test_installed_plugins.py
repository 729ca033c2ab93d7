"""Discovery of real, pip-installed plugin distributions (see tests/plugin_packages/)."""

from __future__ import annotations

import sys

import pytest

from maze_core import plugins
from maze_core.errors import PluginError, UnknownNameError


def by_distribution() -> dict[str, plugins.PluginInfo]:
    return {info.distribution: info for info in plugins.plugins()}


def test_an_installed_plugin_is_found_and_its_targets_load_lazily(installed, monkeypatch):
    monkeypatch.setenv("MAZE_LOAD_PLUGINS", "maze-test-plugin")
    plugins.reload()
    info = by_distribution()["maze-test-plugin"]
    assert (info.version, info.status) == ("0.3.0", "ok")
    assert info.provides == {"env": ["test-corridor"], "distribution": ["test-uniform"]}
    assert plugins.names("env") == ["test-corridor"]
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


def test_a_name_claimed_by_two_plugins_names_both(installed):
    with pytest.raises(PluginError) as error:
        plugins.load("env", "test-corridor")
    assert "'maze-test-clash' and 'maze-test-plugin'" in str(error.value)
    assert "MAZE_LOAD_PLUGINS" in str(error.value)

    infos = by_distribution()
    assert infos["maze-test-plugin"].status == "broken"
    assert infos["maze-test-plugin"].error == "env 'test-corridor' is also provided by maze-test-clash"
    assert infos["maze-test-clash"].error == "env 'test-corridor' is also provided by maze-test-plugin"
    # their other names keep working
    assert plugins.load("env", "test-clash-only").__module__ == "maze_test_clash.envs"
    assert plugins.load("distribution", "test-uniform").__name__ == "UniformDistribution"

    plugins.unregister("maze-test-clash")  # until reload()
    assert plugins.load("env", "test-corridor").__module__ == "maze_test_plugin.envs"
    assert by_distribution()["maze-test-plugin"].status == "ok"


def test_maze_load_plugins_empty_loads_only_the_kernel(installed, monkeypatch):
    monkeypatch.setenv("MAZE_LOAD_PLUGINS", "")
    plugins.reload()
    assert [info.distribution for info in plugins.plugins()] == ["maze-core"]
    assert plugins.names("algorithm") == []
    assert "categorical" in plugins.names("distribution")
    with pytest.raises(UnknownNameError, match="Only the plugins named in MAZE_LOAD_PLUGINS='' are loaded"):
        plugins.load("algorithm", "a2c")


def test_maze_load_plugins_selects_distributions(installed, monkeypatch):
    monkeypatch.setenv("MAZE_LOAD_PLUGINS", " maze_test_plugin , Maze-A2C,maze-test-clash")
    plugins.reload()
    assert [info.distribution for info in plugins.plugins()] == [
        "maze-core",
        "maze-a2c",
        "maze-test-clash",
        "maze-test-plugin",
    ]
    assert plugins.names("algorithm") == ["a2c"]
    assert plugins.names("runner") == []


def test_maze_load_plugins_reports_a_distribution_that_is_not_installed(monkeypatch):
    monkeypatch.setenv("MAZE_LOAD_PLUGINS", "maze-core,maze-not-installed")
    plugins.reload()
    infos = by_distribution()
    assert list(infos) == ["maze-core", "maze-not-installed"]
    assert infos["maze-not-installed"].status == "broken"
    assert infos["maze-not-installed"].error == "not installed (named in MAZE_LOAD_PLUGINS)"


def test_an_unknown_env_mentions_the_broken_plugins(installed):
    from maze_core.env.names import resolve_env

    with pytest.raises(UnknownNameError) as error:
        resolve_env("test-broken-env")
    assert "gymnasium id" in str(error.value)
    assert "These plugins are broken and may provide it: maze-test-broken" in str(error.value)

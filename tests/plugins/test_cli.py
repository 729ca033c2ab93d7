"""The ``maze`` command, run as a real subprocess."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import maze_core

FIRST_PARTY = (
    "maze-a2c",
    "maze-ppo",
    "maze-policies",
    "maze-critics",
    "maze-runners",
    "maze-cuda",
    "maze-ray",
    "maze-dqn",
    "maze-sac",
)
MAZE = [sys.executable, "-m", "maze_core"]


def plugins_json(run, env) -> dict[str, dict]:
    result = run(*MAZE, "plugins", "list", "--json", env=env)
    return {entry["distribution"]: entry for entry in json.loads(result.stdout)}


def test_version_and_help(run, clean_env):
    assert run(*MAZE, "--version", env=clean_env()).stdout.strip() == f"maze {maze_core.__version__}"
    assert "plugins" in run(*MAZE, "--help", env=clean_env()).stdout
    assert "list" in run(*MAZE, "plugins", "--help", env=clean_env()).stdout


def test_plugins_list_json_shows_the_first_party_plugins(run, clean_env):
    listed = plugins_json(run, clean_env())
    assert listed["maze-core"]["provides"]["device"] == ["cpu"]
    for distribution in FIRST_PARTY:
        entry = listed[distribution]
        assert entry["version"] == metadata.version(distribution)
        assert entry["status"] == "ok", entry.get("error")
        assert "error" not in entry
    assert listed["maze-a2c"]["provides"] == {"algorithm": ["a2c"]}
    assert listed["maze-runners"]["provides"] == {"runner": ["dev", "local"]}
    assert listed["maze-ray"]["provides"] == {"runner": ["ray"]}


def test_plugins_list_table_from_the_console_script(run, clean_env):
    maze = Path(sys.executable).with_name("maze")
    output = run(maze, "plugins", "list", env=clean_env()).stdout
    for distribution in ("maze-core", *FIRST_PARTY):
        line = next(line for line in output.splitlines() if f" {distribution} " in line)
        assert " 0.1.0 " in line and " ok " in line, line
    assert "algorithm: a2c" in output
    assert "runner: dev, local" in output


def test_plugins_list_does_not_import_torch(run, clean_env, plugin_site):
    """Listing, broken plugins included, stays light: no torch."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['maze', 'plugins', 'list']\n"
        "try:\n"
        "    runpy.run_module('maze_core', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    output = run(sys.executable, "-c", code, env=clean_env(PYTHONPATH=str(plugin_site))).stdout
    assert "maze-test-broken" in output and "broken" in output
    assert output.rstrip().endswith("torch imported: False")


def test_discovery_and_import_of_maze_core_do_not_import_torch(run, clean_env):
    code = (
        "import sys\n"
        "import maze_core\n"
        "assert 'maze_core.plugins' not in sys.modules, 'importing maze_core discovered plugins'\n"
        "from maze_core import plugins\n"
        "assert 'maze_a2c.plugin' not in sys.modules, 'discovery is not lazy'\n"
        "plugins.names('algorithm')\n"
        "assert 'maze_a2c.plugin' in sys.modules\n"
        "print('torch' in sys.modules)\n"
    )
    assert run(sys.executable, "-c", code, env=clean_env()).stdout.strip() == "False"


def test_a_pip_installed_plugin_appears_and_loads(run, clean_env, plugin_site):
    env = clean_env(PYTHONPATH=str(plugin_site), MAZE_LOAD_PLUGINS="maze-test-plugin")
    listed = plugins_json(run, env)
    assert set(listed) == {"maze-core", "maze-test-plugin"}
    assert listed["maze-test-plugin"] == {
        "distribution": "maze-test-plugin",
        "version": "0.3.0",
        "provides": {"env": ["test-corridor", "test-masked-corridor"], "distribution": ["test-uniform"]},
        "status": "ok",
    }
    code = (
        "from maze_core import plugins\n"
        "env = plugins.load('env', 'test-corridor')()\n"
        "print(type(env).__name__, env.reset(seed=1)[0].tolist())\n"
    )
    assert run(sys.executable, "-c", code, env=env).stdout.strip() == "CorridorEnv [0.0]"

    # without the directory on the path, the plugin is gone
    assert "maze-test-plugin" not in plugins_json(run, clean_env())


def test_plugins_list_json_reports_broken_plugins(run, clean_env, plugin_site):
    listed = plugins_json(run, clean_env(PYTHONPATH=str(plugin_site)))
    assert listed["maze-test-broken"]["status"] == "broken"
    assert "No module named 'maze_test_missing_dependency'" in listed["maze-test-broken"]["error"]
    assert listed["maze-test-hook-raises"]["error"].startswith("hook register_devices raised RuntimeError")
    assert listed["maze-test-clash"]["status"] == "ok"
    assert listed["maze-test-clash"]["clashes"] == [
        "env 'test-corridor' is also provided by maze-test-plugin: "
        "select this one as maze-test-clash:test-corridor"
    ]
    assert all(listed[name]["status"] == "ok" for name in FIRST_PARTY)


def test_plugins_list_with_maze_load_plugins_empty(run, clean_env):
    assert list(plugins_json(run, clean_env(MAZE_LOAD_PLUGINS=""))) == ["maze-core"]
    table = run(*MAZE, "plugins", "list", env=clean_env(MAZE_LOAD_PLUGINS="")).stdout
    assert "MAZE_LOAD_PLUGINS=''" in table


def test_pip_install_and_uninstall_into_the_venv(run, pip, clean_env, package_sources):
    """A real install into this venv (not --target), then a real uninstall."""
    assert "maze-test-plugin" not in plugins_json(run, clean_env()), (
        "left over from an interrupted run: pip uninstall maze-test-plugin"
    )
    try:
        pip(
            "install", "--no-deps", "--no-build-isolation", "--no-index", package_sources / "maze-test-plugin"
        )
        listed = plugins_json(run, clean_env())
        assert listed["maze-test-plugin"]["status"] == "ok"
        assert listed["maze-test-plugin"]["version"] == "0.3.0"
        code = "from maze_core import plugins; print(plugins.load('env', 'test-corridor').__name__)"
        assert run(sys.executable, "-c", code, env=clean_env()).stdout.strip() == "make_corridor"
    finally:
        pip("uninstall", "--yes", "maze-test-plugin")
    assert "maze-test-plugin" not in plugins_json(run, clean_env())

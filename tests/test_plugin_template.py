"""The template plugin (examples/maze-plugin-example) installs, is listed and trains; so does a
renamed copy, the way a plugin author starts from it (see the template's README).

Packages are pip-installed for real, not editable, into this venv, and uninstalled afterwards even
when a test fails.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from shell import maze, pip, run

from maze_core import RunContext, plugins

TEMPLATE = Path(__file__).parents[1] / "examples" / "maze-plugin-example"
QUICK = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 32,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
}
QUICK_ARGS = [arg for key, value in QUICK.items() for arg in ("--set", f"{key}={value}")]


def copy_template(destination: Path) -> Path:
    """A clean copy of the template (building writes into the source directory)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".*_cache")
    return Path(shutil.copytree(TEMPLATE, destination, ignore=ignore))


@contextmanager
def installed(source: Path, distribution: str, package: str):
    """``source`` pip-installed into this venv while the block runs; uninstalled whatever happens."""
    try:
        pip("install", "--no-deps", "--no-build-isolation", "--no-index", source)
        importlib.invalidate_caches()
        plugins.reload()
        yield
    finally:
        pip("uninstall", "--yes", distribution)
        importlib.invalidate_caches()
        plugins.reload()
        for module in [name for name in sys.modules if name.partition(".")[0] == package]:
            del sys.modules[module]


def listed_plugins() -> dict[str, dict]:
    return {entry["distribution"]: entry for entry in json.loads(maze("plugins", "list", "--json").stdout)}


def epochs(run_dir: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def test_the_template_installs_is_listed_and_trains(tmp_path):
    source = copy_template(tmp_path / "maze-plugin-example")
    with installed(source, "maze-plugin-example", "maze_plugin_example"):
        assert listed_plugins()["maze-plugin-example"] == {
            "distribution": "maze-plugin-example",
            "version": "0.1.0",
            "provides": {"env": ["example-corridor"], "algorithm": ["reinforce"]},
            "status": "ok",
        }
        arguments = {"overrides": QUICK, "run_dir": tmp_path / "py", "silent": True}
        with RunContext(env="example-corridor", algorithm="reinforce", **arguments) as rc:
            rc.train(n_epochs=2)
        assert epochs(tmp_path / "py") == [1, 2]

        run_dir = tmp_path / "cli"
        maze(*"train --env example-corridor --algorithm reinforce --epochs 2 --run-dir".split(), run_dir)
        assert epochs(run_dir) == [1, 2]
        assert json.loads((run_dir / "config.json").read_text())["plugins"]["maze-plugin-example"] == "0.1.0"

        run(sys.executable, "-m", "pytest", "-q", cwd=source)  # the template's own tests


def rename(source: Path, distribution: str, package: str, names: dict[str, str]) -> None:
    """What the README tells an author to do: rename the package directory, the distribution and
    package everywhere, and the registered names in plugin.py."""
    (source / "maze_plugin_example").rename(source / package)
    for path in source.rglob("*"):
        if path.suffix in (".py", ".toml", ".md"):
            text = path.read_text()
            text = re.sub("maze-plugin-example", distribution, text)
            path.write_text(re.sub("maze_plugin_example", package, text))
    hooks = source / package / "plugin.py"
    text = hooks.read_text()
    for old, new in names.items():
        text = text.replace(f'register("{old}"', f'register("{new}"')
    hooks.write_text(text)


def test_a_renamed_copy_is_listed_under_its_new_names_and_trains(tmp_path):
    source = copy_template(tmp_path / "maze-gridworld")
    names = {"example-corridor": "gridworld-corridor", "reinforce": "gridworld-reinforce"}
    rename(source, "maze-gridworld", "maze_gridworld", names)
    with installed(source, "maze-gridworld", "maze_gridworld"):
        listed = listed_plugins()
        assert "maze-plugin-example" not in listed
        assert listed["maze-gridworld"]["provides"] == {
            "env": ["gridworld-corridor"],
            "algorithm": ["gridworld-reinforce"],
        }
        assert listed["maze-gridworld"]["status"] == "ok"

        run_dir = tmp_path / "run"
        maze(
            "train",
            *("--env", "gridworld-corridor", "--algorithm", "gridworld-reinforce", "--epochs", "1"),
            *("--run-dir", run_dir, *QUICK_ARGS),
        )
        config = json.loads((run_dir / "config.json").read_text())
        assert config["plugins"]["maze-gridworld"] == "0.1.0"
        assert epochs(run_dir) == [1]
    assert "maze-gridworld" not in listed_plugins()

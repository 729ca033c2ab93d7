"""Fixtures for the registry and CLI tests: real plugin packages, installed with pip.

Helpers are fixtures (not importable functions) because test modules are imported with
``--import-mode=importlib`` and cannot import this conftest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maze_core import plugins

PLUGIN_PACKAGES = Path(__file__).resolve().parents[1] / "plugin_packages"
TEST_DISTRIBUTIONS = (
    "maze-test-plugin",
    "maze-test-broken",
    "maze-test-hook-raises",
    "maze-test-clash",
    "maze-test-ppo",
    "maze-test-old-ppo",
    "maze-test-naive",
)


def _run(*args: str | os.PathLike, env: dict[str, str] | None = None, timeout: float = 120):
    """Run a command; on failure, fail the test with its output."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited with {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def _pip(*args: str | os.PathLike):
    """The venv's pip, offline: local sources only, built with the venv's setuptools."""
    return _run(sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args)


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: no MAZE_LOAD_PLUGINS unless given, a wide console."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAZE_LOAD_PLUGINS", "PYTHONPATH")}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def package_sources(tmp_path_factory) -> Path:
    """A copy of tests/plugin_packages, so that building leaves nothing in the source tree."""
    destination = tmp_path_factory.mktemp("plugin-sources") / "plugin_packages"
    shutil.copytree(PLUGIN_PACKAGES, destination)
    return destination


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory, package_sources) -> Path:
    """A directory with all test plugin distributions pip-installed into it (``pip --target``)."""
    site = tmp_path_factory.mktemp("plugin-site")
    _pip(
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        site,
        *(package_sources / name for name in TEST_DISTRIBUTIONS),
    )
    return site


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Every test starts from fresh discovery, without MAZE_LOAD_PLUGINS, and leaves no trace."""
    monkeypatch.delenv("MAZE_LOAD_PLUGINS", raising=False)
    plugins.reload()
    yield
    plugins.reload()
    for module in [name for name in sys.modules if name.startswith("maze_test_")]:
        del sys.modules[module]


@pytest.fixture
def installed(plugin_site, monkeypatch) -> Path:
    """The test plugins are importable and discoverable in this process (until the test ends)."""
    monkeypatch.syspath_prepend(str(plugin_site))
    plugins.reload()
    return plugin_site


@pytest.fixture
def run():
    """``run(*command, env=None)``: run a command, fail the test with its output if it fails."""
    return _run


@pytest.fixture
def pip():
    """``pip(*args)``: the venv's pip, offline."""
    return _pip


@pytest.fixture
def clean_env():
    """``clean_env(**extra)``: a subprocess environment without MAZE_LOAD_PLUGINS or PYTHONPATH."""
    return _clean_env

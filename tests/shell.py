"""Running commands from tests: the ``maze`` CLI, pip and scripts, as real subprocesses.

Importable from any test module (``tests/`` is on the path), unlike a conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MAZE = (sys.executable, "-m", "maze_core")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without MAZE_LOAD_PLUGINS or PYTHONPATH, with a wide console."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAZE_LOAD_PLUGINS", "PYTHONPATH")}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run(*args, cwd=None, env=None, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with text output; with ``check``, a failure fails the test and shows the output."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited with {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def maze(*args, **kwargs) -> subprocess.CompletedProcess:
    """``maze <args>`` in a subprocess (see :func:`run`)."""
    return run(*MAZE, *args, **kwargs)


def pip(*args) -> subprocess.CompletedProcess:
    """The venv's pip, offline: local sources only, built with the venv's setuptools."""
    return run(sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args)

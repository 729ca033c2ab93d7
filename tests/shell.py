"""Running commands from tests: the ``maze`` CLI, pip and scripts, as real subprocesses.

Importable from any test module (``tests/`` is on the path), unlike a conftest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest
from processes import descendants

MAZE = (sys.executable, "-m", "maze_core")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without MAZE_LOAD_PLUGINS or PYTHONPATH, with a wide console."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAZE_LOAD_PLUGINS", "PYTHONPATH")}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run(*args, cwd=None, env=None, timeout: float = 240, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command with text output; with ``check``, a failure fails the test and shows the output.

    A command still running after ``timeout`` seconds (under pytest-timeout's 300) fails the test
    with the Python stacks of it and of its child processes (faulthandler, on SIGABRT)."""
    command = [str(arg) for arg in args]
    env = {**(clean_env() if env is None else env), "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in (process.pid, *descendants(process.pid)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGABRT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        finally:
            process.kill()
        pytest.fail(f"{' '.join(command)} still ran after {timeout} s; its stacks:\n{stderr[-20000:]}")
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
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

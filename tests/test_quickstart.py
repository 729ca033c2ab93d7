"""The README's first command, whole (``pytest -m slow``: about a minute on 2 cores)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from shell import MAZE, clean_env

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_quickstart_prints_no_warning_and_ends_with_the_numbers_of_maze_evaluate():
    result = subprocess.run(
        ["scripts/quickstart.sh"], cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert not re.search(r"warn", output, re.IGNORECASE), output
    assert "\x1b" not in output
    assert [line for line in output.splitlines() if line.startswith("── ")][-1].startswith("── 5/5 Summary")
    evaluation = json.loads(
        subprocess.run(
            [*MAZE, "evaluate", "outputs/quickstart", "--episodes", "20", "--json"],
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    summary = output.split("── 5/5 Summary")[-1]
    assert f"mean return {evaluation['episode_return_mean']:.2f}" in summary
    assert f"{evaluation['episode_count']} fresh episodes" in summary
    assert "trains twice" in output.split("── 4/5")[-1]
    _next_commands_work_as_typed(summary)


def _next_commands_work_as_typed(summary: str) -> None:
    """The "Next:" commands, typed into a new shell, where the venv is not on the PATH (TensorBoard
    is a server that runs until stopped: not started here)."""
    block = summary.split("Next:", 1)[1].splitlines()
    commands = [line.strip() for line in block if line.strip() and not line.strip().startswith("tensorboard")]
    assert commands[0] == "source .venv/bin/activate" and commands[1].startswith("maze evaluate")
    venv = str(ROOT / ".venv" / "bin")
    path = ":".join(entry for entry in clean_env()["PATH"].split(":") if entry.rstrip("/") != venv)
    shell = subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(commands)],
        cwd=ROOT,
        env=clean_env(PATH=path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert shell.returncode == 0, shell.stderr[-3000:]

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

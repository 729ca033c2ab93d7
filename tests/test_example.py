"""The tutorial script runs to completion (it is also the README's main job)."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "plain_python_training.py"


def test_plain_python_training_example_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    runs = list((tmp_path / "outputs").glob("*/*/stats.jsonl"))
    assert len(runs) == 2  # the dev run and the local run

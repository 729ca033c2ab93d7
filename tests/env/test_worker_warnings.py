"""Env worker processes apply the warning filters of the process that started them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    import warnings

    import gymnasium

    from maze_core import GymMazeEnv, SubprocVectorEnv

    def factory():
        warnings.warn("a warning from the env factory", UserWarning)
        return GymMazeEnv(gymnasium.make("CartPole-v1"))

    if sys.argv[1] == "filtered":
        warnings.filterwarnings("ignore", message="a warning from the env factory")
    env = SubprocVectorEnv([factory, factory])
    env.close()
    print("done")
    """
)


def run(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120, check=True
    )


def test_a_filter_set_in_the_main_script_holds_in_the_env_workers():
    assert run("shown").stderr.count("a warning from the env factory") == 2  # once per worker
    filtered = run("filtered")
    assert filtered.stdout.strip() == "done"
    assert "a warning from the env factory" not in filtered.stderr

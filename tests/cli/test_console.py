"""What a person sees of ``maze train``: on a terminal (a pseudo-terminal) and piped to a file."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import time
from pathlib import Path

from shell import MAZE, clean_env

TINY = [
    *("--set", "algorithm.epoch_length=2"),
    *("--set", "algorithm.n_rollout_steps=4"),
    *("--set", "runner.n_envs=1"),
    *("--set", "runner.eval_episodes=1"),
]
ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")


def train_args(run_dir) -> list[str]:
    return [
        *MAZE,
        "train",
        "--env",
        "CartPole-v1",
        "--epochs",
        "3",
        "--seed",
        "0",
        "--run-dir",
        str(run_dir),
        *TINY,
    ]


def console_env(**extra: str) -> dict[str, str]:
    """The test environment with the console's size left to the terminal (no COLUMNS)."""
    env = clean_env(**extra)
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        env.pop(name, None)
    return env


def check_table(lines: list[str], run_dir) -> None:
    """The banner, then a header and one row per epoch whose columns line up with the header."""
    assert lines[:2] == ["Training CartPole-v1 with a2c", "Runner dev, 1 env; device cpu; seed 0"]
    assert re.fullmatch(r"Model: [\d,]+ parameters", lines[2])
    assert lines[3] == f"Run directory: {run_dir}"
    header_index = next(i for i, line in enumerate(lines) if line.startswith("epoch"))
    header = lines[header_index]
    assert header.split()[:5] == ["epoch", "steps", "return", "eval", "length"]
    assert header.split()[-2:] == ["steps/s", "best"]
    rows = lines[header_index + 1 : header_index + 4]
    assert [row.split()[0] for row in rows] == ["1", "2", "3"]
    column_ends = [match.end() for match in re.finditer(r"\S+", header)]
    for row in rows:  # right-aligned: every value ends where its column's label ends
        assert [match.end() for match in re.finditer(r"\S+", row)] == column_ends[: len(row.split())]
    assert "*" in rows[0]  # the first evaluated model is the best so far
    summary = "\n".join(lines[header_index + 4 :])
    assert "Best mean evaluation return" in summary
    assert f"maze evaluate {run_dir}" in summary
    assert f"tensorboard --logdir {run_dir}" in summary
    assert f"Learning curve: {run_dir / 'curve.png'}" in summary


def test_piped_output_is_plain_text_within_80_columns(tmp_path):
    run_dir = Path("run")  # relative, so that the commands printed at the end fit in 80 columns
    result = subprocess.run(
        train_args(run_dir), cwd=tmp_path, env=console_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b" not in out and "\r" not in out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert all(line == line.rstrip() for line in lines)
    check_table(lines, run_dir)
    assert (tmp_path / run_dir / "curve.png").stat().st_size > 10_000


def test_a_terminal_gets_colours_a_live_progress_line_and_the_same_table(tmp_path):
    run_dir = tmp_path / "run"
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
    process = subprocess.Popen(
        train_args(run_dir),
        env=console_env(TERM="xterm-256color"),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=60) == 0
    raw = b"".join(chunks).decode()
    assert "\x1b[" in raw  # styled
    # the live line: epoch i/N, env steps, the ETA, also while evaluating
    assert re.search(r"epoch 1/3 .*steps.*ETA", ESCAPE.sub("", raw))
    assert re.search(r"eval  \d/3 ", ESCAPE.sub("", raw))
    # what stays on the screen: the progress line is drawn over and finally erased
    screen = []
    for line in ESCAPE.sub("", raw).replace("\r\n", "\n").split("\n"):
        line = line.split("\r")[-1].rstrip()
        if line and not re.match(r"(epoch|eval) +\d+/3 |starting", line):
            screen.append(line)
    check_table(screen, run_dir)


def test_help_shows_no_types_after_flags_no_braces_and_every_default_in_full():
    result = subprocess.run(
        [*MAZE, "train", "--help"], env=console_env(COLUMNS="80"), capture_output=True, text=True, timeout=60
    )
    text = result.stdout
    assert "<bool>" not in text and "{" not in text and "…" not in text
    assert "outputs/ENV-ALGO-RUNNER/TIME" in text and "Required (except with --resume)" in text
    usage = subprocess.run(
        [*MAZE, "evaluate", "--help"], env=console_env(COLUMNS="80"), capture_output=True, text=True
    ).stdout
    assert "Usage: maze evaluate [OPTIONS] RUN_DIR" in usage

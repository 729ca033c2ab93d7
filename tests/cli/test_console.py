"""What a person sees of ``maze train``: on a terminal (a pseudo-terminal) and piped to a file."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
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
    *("--set", "runner.native_vector_env=false"),  # exactly 8 env steps an epoch
]
ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")


def train_args(run_dir, *length: str) -> list[str]:
    """A tiny A2C run (8 env steps an epoch) of ``length`` (default: 3 epochs)."""
    length = length or ("--epochs", "3")
    return [*MAZE, "train", "--env", "CartPole-v1", *length, "--seed", "0", "--run-dir", str(run_dir), *TINY]


def console_env(**extra: str) -> dict[str, str]:
    """The test environment with the console's size left to the terminal (no COLUMNS)."""
    env = clean_env(**extra)
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        env.pop(name, None)
    return env


#: a row of the console table: the epoch, right-aligned in its column
ROW = re.compile(r" {0,4}\d+  ")
A2C_COLUMNS = ["pi_loss", "v_loss", "entropy"]
PPO_COLUMNS = ["pi_loss", "v_loss", "entropy", "kl", "clip_frac", "expl_var"]


def check_table(lines: list[str], run_dir, algorithm="a2c", budget="3 epochs", columns=A2C_COLUMNS) -> None:
    """The banner, then a header and one row per epoch whose columns line up with the header."""
    assert lines[:2] == [f"Training CartPole-v1 with {algorithm}", "Runner dev, 1 env; device cpu; seed 0"]
    assert re.fullmatch(r"Model: [\d,]+ parameters", lines[2])
    assert lines[3] == f"Budget: {budget}"
    assert f"Run directory: {run_dir}" in lines[4:6]
    header_index = next(i for i, line in enumerate(lines) if line.startswith("epoch"))
    assert not any(line.startswith("Not shown") for line in lines[:header_index])
    header = lines[header_index]
    # the algorithm's headline statistics; no length: on CartPole it is the return over again
    assert header.split() == ["epoch", "steps", "return", "eval", *columns, "steps/s", "best"]
    rows = [line for line in lines if ROW.match(line)][:3]  # (a warning may come between rows)
    assert [row.split()[0] for row in rows] == ["1", "2", "3"]
    column_ends = [match.end() for match in re.finditer(r"\S+", header)]
    for row in rows:  # right-aligned: every value ends where its column's label ends
        assert [match.end() for match in re.finditer(r"\S+", row)] == column_ends[: len(row.split())]
    assert "*" in rows[0]  # the first evaluated model is the best so far
    summary = "\n".join(lines[lines.index(rows[-1]) + 1 :])
    assert "Best mean evaluation return" in summary
    assert f"maze evaluate {run_dir}" in summary
    assert f"tensorboard --logdir {run_dir}" in summary
    assert f"Learning curve: {run_dir / 'curve.png'}" in summary


def test_piped_output_is_plain_text_with_every_headline_statistic_and_ctrl_c_ends_it_in_full(tmp_path):
    """In a pipe, width is no reason to leave out PPO's losses, entropy and KL (wider than 80
    columns), and a setting such as clip_range gets no column. Ctrl-C after three epochs ends it
    as a finished run ends, with the curve and the summary, and says "Interrupted" once."""
    run_dir = Path("run")  # relative, so that the commands printed at the end fit in 80 columns
    command = train_args(run_dir, "--algorithm", "ppo", "--epochs", "0", "--set", "algorithm.patience=0")
    process = subprocess.Popen(
        command, cwd=tmp_path, env=console_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stats = tmp_path / run_dir / "stats.jsonl"
    deadline = time.monotonic() + 300
    while not (stats.exists() and len(stats.read_text().splitlines()) >= 3):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "\x1b" not in out + err and "\r" not in out + err
    lines = out.splitlines()
    epochs = len(stats.read_text().splitlines())
    table = [line for line in lines if line.startswith("epoch") or ROW.match(line)]
    assert len(table) == 1 + epochs and len(table[0]) > 80 and "clip_range" not in out
    assert [line for line in lines if len(line) > 80 and line not in table] == []
    assert all(line == line.rstrip() for line in lines)
    no_limit = "no limit (until early stopping, the target return or Ctrl-C)"
    check_table(lines, run_dir, algorithm="ppo", budget=no_limit, columns=PPO_COLUMNS)
    assert f"in epoch 1 of {epochs}" in out or f"of {epochs}, " in out
    assert (tmp_path / run_dir / "curve.png").stat().st_size > 10_000
    assert (out + err).count("Interrupted") == 1
    kept = "Interrupted: the best model and a resumable checkpoint are kept."
    assert err == f"{kept} Continue with: maze train --resume {run_dir}\n"
    assert json.loads(stats.read_text().splitlines()[-1])["epoch"] == epochs


def test_a_terminal_gets_colours_a_live_progress_line_and_the_same_table(tmp_path):
    run_dir = tmp_path / "run"
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
    process = subprocess.Popen(
        train_args(run_dir, "--steps", "24"),  # 3 epochs of 8 env steps
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
    # the live line: the epoch, env steps of the budget, the time left, also while evaluating
    assert re.search(r"epoch 1 .* \d+/24 steps +ETA \d+:\d\d", ESCAPE.sub("", raw))
    assert re.search(r"eval  \d .* \d+/24 steps", ESCAPE.sub("", raw))
    # what stays on the screen: the progress line is drawn over and finally erased
    screen = []
    for line in ESCAPE.sub("", raw).replace("\r\n", "\n").split("\n"):
        line = line.split("\r")[-1].rstrip()
        if line and not re.match(r"(epoch|eval) +\d+ |starting", line):
            screen.append(line)
    table = [line for line in screen if line.startswith("epoch") or ROW.match(line)]
    assert len(table) == 4 and all(len(line) <= 80 for line in table)  # A2C's headline fits 80 columns
    check_table(screen, run_dir, budget="24 env steps")


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

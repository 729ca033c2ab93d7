"""Start-up: a short ``maze train`` imports nothing its run does not need (``benchmarks/startup.py``
times it against Stable-Baselines3, B5), and the pieces that keep it so: the curve's child process,
the event-file writer."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys

from shell import clean_env

from maze_core import RunContext
from maze_core.curve_process import CurveProcess
from maze_core.training.event_file import EventFile, crc32c, event

#: modules a short run used to import, and what keeps each out now
NOT_NEEDED = {
    "torch._dynamo": "torch.optim imports it on a first step (training/optimizers.py replaces it)",
    "sympy": "comes with torch._dynamo",
    "matplotlib": "curve.png is drawn by a child process (maze_core/curve_process.py)",
    "PIL": "comes with matplotlib",
    "torch.utils.tensorboard": "training/event_file.py writes the event files",
    "tensorboard": "training/event_file.py writes the event files",
    "google.protobuf": "comes with TensorBoard",
    "numpy.polynomial": "the Gaussian's quadrature nodes are computed on first use",
}

#: ``maze train`` as the console script runs it, printing which of NOT_NEEDED it loaded at exit
PROBE = """
import atexit, json, sys
not_needed = json.loads(sys.argv.pop(1))
atexit.register(lambda: print("LOADED " + json.dumps(sorted(m for m in not_needed if m in sys.modules))))
sys.argv[0] = "maze"
from maze_core.__main__ import main
main()
"""

ONE_UPDATE = [
    *("--set", "algorithm.epoch_length=1"),
    *("--set", "algorithm.n_rollout_steps=5"),
    *("--set", "runner.n_envs=1"),
    *("--set", "runner.eval_episodes=1"),
]


def test_a_short_maze_train_imports_no_module_it_does_not_need_and_still_draws_its_curve(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-c", PROBE, json.dumps(list(NOT_NEEDED)), "train", "--env", "CartPole-v1"]
    command += ["--epochs", "1", "--run-dir", str(run_dir), *ONE_UPDATE]
    result = subprocess.run(
        command, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.rsplit("LOADED ", 1)[1])
    assert loaded == [], {module: NOT_NEEDED[module] for module in loaded}
    assert (run_dir / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Learning curve:" in result.stdout


def _finished_run(tmp_path):
    run_dir = tmp_path / "run"
    overrides = {"algorithm.epoch_length": 1, "runner.n_envs": 1, "runner.eval_episodes": 1}
    with RunContext(env="CartPole-v1", overrides=overrides, run_dir=run_dir, seed=0, silent=True) as run:
        run.train(n_epochs=2)
    return run_dir


def test_the_curve_is_drawn_in_process_when_its_child_process_is_gone(tmp_path):
    run_dir = _finished_run(tmp_path)
    curve = CurveProcess()
    os.kill(curve._process.pid, signal.SIGKILL)  # e.g. a supervisor's signal to every process
    curve._process.wait()
    curve.write_curve(run_dir, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 10_000
    drawn_by_the_child = tmp_path / "by-child.png"
    CurveProcess().write_curve(run_dir, drawn_by_the_child)
    assert drawn_by_the_child.stat().st_size > 10_000


def test_event_records_are_framed_and_encoded_as_tensorboard_reads_them(tmp_path):
    from tensorboard.compat.proto.event_pb2 import Event  # the reader's own protobuf

    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    data = event(12.5, 3000, {"eval/return": 21.25, "train/epoch": 2})
    parsed = Event.FromString(data)
    assert (parsed.wall_time, parsed.step) == (12.5, 3000)
    assert [(v.tag, v.simple_value) for v in parsed.summary.value] == [
        ("eval/return", 21.25),
        ("train/epoch", 2.0),
    ]
    events = EventFile(tmp_path, suffix=".test")
    events.add_scalars({"loss": 0.5}, step=7)
    events.close()
    raw = events.path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    first = Event.FromString(raw[12 : 12 + length])
    assert first.file_version == "brain.Event:2"
    assert events.path.name.startswith("events.out.tfevents.") and events.path.name.endswith(".test")

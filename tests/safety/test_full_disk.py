"""A real full disk (a 1 MiB tmpfs): saving a model and taking the lock end with one line that says
what to do, and nothing half-written stays behind."""

from __future__ import annotations

from safety_support import QUICK, cli, one_line_error


def fill(directory) -> None:
    """Write to ``directory`` until its file system is full."""
    with (directory / "filler").open("wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_disk_that_fills_up_while_the_model_is_saved(small_disk):
    run_dir = small_disk / "run"
    result = cli("train", "--env", "CartPole-v1", "--epochs", "1", *QUICK, "--run-dir", run_dir)
    one_line_error(result, "No space left on device; free some space")
    assert not list(run_dir.glob(".*maze-tmp"))


def test_a_full_disk_when_a_fresh_run_takes_its_lock(small_disk):
    fill(small_disk)
    result = cli("train", "--env", "CartPole-v1", "--epochs", "1", *QUICK, "--run-dir", small_disk / "run")
    one_line_error(result, "No space left on device; free some space")

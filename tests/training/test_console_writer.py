"""The console table shows an algorithm's headline statistics, aligned: all of them in a pipe or
file, as many as fit on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from maze_core.training import writers
from maze_core.training.writers import ConsoleWriter, compact


def epoch_stats(epoch: int, algorithm: dict) -> dict:
    return {
        "train": {"episode_count": 3, "episode_return_mean": 20.5 * epoch, "episode_length_mean": 20.5},
        "algorithm": {
            **algorithm,
            "learning_rate": 3e-4,
            "steps_per_second": 1234.5,
            "env_steps": 2048 * epoch,
        },
        "eval": {"episode_return_mean": 100.0 * epoch},
        "model_selection": {"new_best": int(epoch != 2)},
    }


def lines_of(width: int, algorithm: dict, epochs: int = 3, terminal: bool = False, columns=None) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=terminal, color_system=None, highlight=False)
    writer = ConsoleWriter(console, columns=columns)
    for epoch in range(1, epochs + 1):
        writer.write(epoch, epoch_stats(epoch, algorithm))
    return out.getvalue().splitlines()


PPO_LIKE = {
    "policy_loss": -0.01,
    "value_loss": 12.5,
    "entropy": 0.61,
    "approx_kl": 0.0042,
    "clip_fraction": 0.12,
}


def test_an_algorithms_own_statistics_become_columns_in_its_order():
    header, *rows = lines_of(120, PPO_LIKE)
    assert header.split() == [
        "epoch", "steps", "return", "eval",
        "pi_loss", "v_loss", "entropy", "kl", "clip_frac", "steps/s", "best",
    ]  # fmt: skip
    assert rows[0].split() == ["1", "2.0k", "20.50", "100.0", "-0.0100", "12.50", "0.6100", "0.0042",
                               "0.1200", "1.2k", "*"]  # fmt: skip
    assert not rows[1].endswith("*") and rows[2].endswith("*")
    assert len({len(row) for row in (header, rows[0], rows[2])}) == 1  # aligned to the last column


def test_in_a_pipe_every_headline_statistic_is_shown_however_narrow_the_console():
    lines = lines_of(40, PPO_LIKE)
    assert lines[0].split()[4:9] == ["pi_loss", "v_loss", "entropy", "kl", "clip_frac"]
    assert not any("Not shown" in line for line in lines)


def test_on_a_terminal_what_does_not_fit_is_named_once_a_process_above_the_header(monkeypatch):
    monkeypatch.setattr(writers, "_NOTED", set())
    lines = lines_of(80, PPO_LIKE, terminal=True)
    note = " ".join(lines[: next(i for i, line in enumerate(lines) if line.startswith("epoch"))])
    assert note == "Not shown at this width (see stats.jsonl or TensorBoard): clip_fraction"
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    assert sum(line.startswith("epoch") for line in lines) == 1
    again = lines_of(80, PPO_LIKE, terminal=True)  # a second run in the same process
    assert again[0].startswith("epoch")


def test_the_length_gets_a_column_only_with_room_and_when_it_is_not_the_return():
    other = {**PPO_LIKE}
    lines = lines_of(120, other, epochs=1)
    assert "length" not in lines[0]  # CartPole-like: the length is the return
    out = io.StringIO()
    writer = ConsoleWriter(Console(file=out, width=120, force_terminal=False, highlight=False))
    stats = epoch_stats(1, other)
    stats["train"]["episode_length_mean"] = 200.0  # Pendulum-like
    writer.write(1, stats)
    assert out.getvalue().split()[9] == "length"
    narrow = io.StringIO()
    ConsoleWriter(Console(file=narrow, width=80, force_terminal=False, highlight=False)).write(1, stats)
    assert "length" not in narrow.getvalue()  # no room left within 80 columns


def test_numbers_take_at_most_7_characters_and_counts_read_alike():
    values = [0, 7, 12.345, 487.25, 2048.0, 16000, 1_250_000, 0.0123, -0.0004, 3e-9, -123456.0]
    assert all(len(compact(v)) <= 7 for v in values)
    assert [compact(v) for v in values] == [
        "0", "7", "12.35", "487.2", "2048", "16.0k", "1.25M", "0.0123", "-4.0e-4", "3.0e-9", "-123.5k",
    ]  # fmt: skip
    assert [compact(steps) for steps in (640, 1600, 10_240, 102_400)] == ["640", "1.6k", "10.2k", "102.4k"]


def test_declared_columns_do_not_depend_on_which_statistics_the_first_epoch_had():
    """PPO's first update may stop early on target_kl (no losses that epoch) or have returns without
    variance (no explained_variance): with the trainer's headline_statistics the header is the same."""
    from maze_ppo.trainer import PPO

    out = io.StringIO()
    writer = ConsoleWriter(
        Console(file=out, width=200, force_terminal=False, highlight=False), columns=PPO.headline_statistics
    )
    writer.write(1, epoch_stats(1, {"early_stopped": 1.0, "clip_range": 0.2}))
    writer.write(2, epoch_stats(2, {**PPO_LIKE, "explained_variance": 0.5, "early_stopped": 0.0}))
    header, first, second = out.getvalue().splitlines()
    assert header.split()[4:10] == ["pi_loss", "v_loss", "entropy", "kl", "clip_frac", "expl_var"]
    assert first.split()[4:10] == ["-"] * 6
    assert second.split()[4:10] == ["-0.0100", "12.50", "0.6100", "0.0042", "0.1200", "0.5000"]
    assert "clip_range" not in header and "early" not in header  # settings, not measurements

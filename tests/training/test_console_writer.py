"""The console table shows whatever an algorithm's update() returns, aligned, within the width."""

from __future__ import annotations

import io

from rich.console import Console

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


def lines_of(width: int, algorithm: dict, epochs: int = 3) -> list[str]:
    out = io.StringIO()
    writer = ConsoleWriter(Console(file=out, width=width, force_terminal=False, highlight=False))
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
        "epoch", "steps", "return", "eval", "length",
        "pi_loss", "v_loss", "entropy", "kl", "clip_frac", "steps/s", "best",
    ]  # fmt: skip
    assert rows[0].split() == ["1", "2048", "20.50", "100.0", "20.50", "-0.0100", "12.50", "0.6100", "0.0042",
                               "0.1200", "1234", "*"]  # fmt: skip
    assert not rows[1].endswith("*") and rows[2].endswith("*")
    assert len({len(row) for row in (header, rows[0], rows[2])}) == 1  # aligned to the last column


def test_at_80_columns_what_does_not_fit_is_named_once_above_the_header():
    lines = lines_of(80, PPO_LIKE)
    note = " ".join(lines[: next(i for i, line in enumerate(lines) if line.startswith("epoch"))])
    assert "Not shown at this width" in note and "approx_kl, clip_fraction" in note
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    assert sum(line.startswith("epoch") for line in lines) == 1


def test_numbers_take_at_most_7_characters():
    values = [0, 7, 12.345, 487.25, 2048, 16000, 1_250_000, 0.0123, -0.0004, 3e-9, -123456.0]
    assert all(len(compact(v)) <= 7 for v in values)
    assert [compact(v) for v in values] == [
        "0", "7", "12.35", "487.2", "2048", "16.0k", "1.25M", "0.0123", "-4.0e-4", "3.0e-9", "-123.5k",
    ]  # fmt: skip


def test_declared_columns_do_not_depend_on_which_statistics_the_first_epoch_had():
    """PPO's first update may stop early on target_kl (no losses that epoch) or have returns without
    variance (no explained_variance): with the trainer's console_statistics the header is the same."""
    from maze_ppo.trainer import PPO

    out = io.StringIO()
    writer = ConsoleWriter(
        Console(file=out, width=200, force_terminal=False, highlight=False), columns=PPO.console_statistics
    )
    writer.write(1, epoch_stats(1, {"early_stopped": 1.0, "clip_range": 0.2}))
    writer.write(2, epoch_stats(2, {**PPO_LIKE, "explained_variance": 0.5, "early_stopped": 0.0}))
    header, first, second = out.getvalue().splitlines()
    assert header.split()[5:10] == ["pi_loss", "v_loss", "entropy", "kl", "clip_frac"]
    assert first.split()[5:10] == ["-"] * 5
    assert second.split()[5:11] == ["-0.0100", "12.50", "0.6100", "0.0042", "0.1200", "0.5000"]

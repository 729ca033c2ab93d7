"""Epoch statistics: the reduction of finished episodes, and the hub that sends them to writers.

Envs only append finished episodes (a return, a length, optional metric values) to an
:class:`EpisodeRecorder`; everything else happens once per epoch, so statistics cost nothing per
step beyond a few array operations.

The hub collects the statistics of one log step (one epoch) from every source (``train``,
``eval``, the trainer's losses) and hands them to the registered writers (console, JSON lines,
TensorBoard) when :func:`increment_log_step` is called.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

import numpy as np

#: statistic name -> value; counts are ``int``, everything else ``float``
Stats = dict[str, float]


class EpisodeRecorder:
    """Collects finished episodes between two epoch reductions, and keeps the running totals."""

    def __init__(self) -> None:
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.metrics: dict[str, list[float]] = defaultdict(list)
        self.total_episode_count = 0
        self.total_step_count = 0
        self.last_epoch_stats: Stats = {}

    def add_episode(self, episode_return: float, episode_length: int) -> None:
        self.returns.append(float(episode_return))
        self.lengths.append(int(episode_length))
        self.total_episode_count += 1
        self.total_step_count += int(episode_length)

    def add_episodes(self, episode_returns: np.ndarray, episode_lengths: np.ndarray) -> None:
        """Several episodes at once (arrays over the envs whose episodes ended)."""
        self.returns.extend(episode_returns.tolist())
        self.lengths.extend(episode_lengths.tolist())
        self.total_episode_count += len(episode_lengths)
        self.total_step_count += int(episode_lengths.sum())

    def add_metric(self, name: str, value: float) -> None:
        self.metrics[name].append(float(value))

    def clear(self) -> None:
        self.returns.clear()
        self.lengths.clear()
        self.metrics.clear()

    def reduce(self) -> Stats:
        """Reduce the episodes since the last call to epoch statistics and start a new epoch."""
        stats = reduce_episodes(self.returns, self.lengths, self.metrics)
        stats["total_episode_count"] = self.total_episode_count
        stats["total_step_count"] = self.total_step_count
        self.clear()
        self.last_epoch_stats = stats
        return stats


def reduce_episodes(returns, lengths, metrics=None) -> Stats:
    """Epoch statistics of the given episodes; return statistics are absent when none finished."""
    stats: Stats = {"episode_count": len(returns)}
    if len(returns):
        r = np.asarray(returns, dtype=np.float64)
        n = np.asarray(lengths, dtype=np.float64)
        stats.update(
            episode_return_mean=float(r.mean()),
            episode_return_min=float(r.min()),
            episode_return_max=float(r.max()),
            episode_return_std=float(r.std()),
            episode_length_mean=float(n.mean()),
            episode_length_median=float(np.median(n)),
        )
    for name, values in (metrics or {}).items():
        if values:
            stats[f"metric/{name}"] = float(np.mean(values))
    return stats


class StatsWriter(Protocol):
    """Receives the statistics of one log step: ``{prefix: {name: value}}``."""

    def write(self, step: int, stats: dict[str, Stats]) -> None: ...

    def close(self) -> None: ...


class _LogHub:
    def __init__(self) -> None:
        self.step = 1
        self.writers: list[StatsWriter] = []
        self.pending: dict[str, Stats] = {}


_hub = _LogHub()


def register_writer(writer: StatsWriter) -> None:
    _hub.writers.append(writer)


def remove_writer(writer: StatsWriter) -> None:
    if writer in _hub.writers:
        _hub.writers.remove(writer)
        writer.close()


def has_writers() -> bool:
    """Whether a run is logging (outside a run, statistics are printed by whoever produced them)."""
    return bool(_hub.writers)


def log_stats(prefix: str, stats: Stats) -> None:
    """Queue statistics under ``prefix`` for the current log step (later calls update earlier ones)."""
    _hub.pending.setdefault(prefix, {}).update(stats)


def increment_log_step(step: int | None = None) -> dict[str, Stats]:
    """Send the queued statistics to every writer and start the next log step.

    ``step`` labels this log step (a trainer passes its epoch number, so a resumed run or a second
    run in the same process is numbered by its own epochs); by default the hub counts.
    """
    if step is not None:
        _hub.step = step
    stats, _hub.pending = _hub.pending, {}
    for writer in list(_hub.writers):
        writer.write(_hub.step, stats)
    _hub.step += 1
    return stats


def log_message(text: str) -> None:
    """A one-line message for the user (early stopping, new best model); writers may show it."""
    for writer in list(_hub.writers):
        show = getattr(writer, "message", None)
        if show is not None:
            show(text)


def log_step() -> int:
    return _hub.step


def clear_global_state() -> None:
    """Close all writers, drop pending statistics and restart at log step 1 (used by tests)."""
    for writer in list(_hub.writers):
        writer.close()
    _hub.writers.clear()
    _hub.pending.clear()
    _hub.step = 1

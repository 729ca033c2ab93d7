"""LogStatsEnv: the epoch-statistics interface shared by LogStatsWrapper and the vector envs."""

from __future__ import annotations

from maze_core.statistics import EpisodeRecorder, Stats, log_stats


class LogStatsEnv:
    """Epoch statistics over the episodes an env finished (see ``docs/environments.md`` for keys).

    Implementations append finished episodes and metric values to :attr:`episode_recorder`; this
    class reduces them once per epoch. Only *finished* episodes count: an episode still running when
    :meth:`write_epoch_stats` is called is counted in the epoch in which it ends (so the statistics
    are not biased towards short, cut-off episodes), and one abandoned by ``reset()`` is dropped.
    """

    episode_recorder: EpisodeRecorder
    logging_prefix: str | None

    def write_epoch_stats(self) -> Stats:
        """Reduce the episodes finished since the last call, log them under :attr:`logging_prefix`
        (if set) and return them."""
        stats = self.episode_recorder.reduce()
        if self.logging_prefix is not None:
            log_stats(self.logging_prefix, stats)
        return stats

    def clear_epoch_stats(self) -> None:
        """Drop the episodes and metric values collected since the last :meth:`write_epoch_stats`."""
        self.episode_recorder.clear()

    @property
    def last_epoch_stats(self) -> Stats:
        """The statistics returned by the last :meth:`write_epoch_stats` (empty before the first)."""
        return self.episode_recorder.last_epoch_stats

    def get_stats_value(self, name: str) -> float:
        """One value of :attr:`last_epoch_stats`, e.g. ``"episode_return_mean"``."""
        try:
            return self.last_epoch_stats[name]
        except KeyError:
            available = ", ".join(sorted(self.last_epoch_stats)) or "none"
            hint = (
                " Return and length statistics are only present when an episode finished in the epoch."
                if name.startswith("episode_")
                else ""
            )
            raise KeyError(
                f"no epoch statistic {name!r} (available: {available}); call write_epoch_stats() first.{hint}"
            ) from None

"""One console line when training looks like it diverges, saying what to change.

After each epoch the trainer hands its update statistics (the epoch means) to a
:class:`DivergenceWatch`, which warns, once per statistic and run, when

* a statistic the algorithm limits (its config's ``warning_limits``, e.g. PPO's ``approx_kl``)
  exceeds its limit: the line is the algorithm's advice;
* a loss (a statistic whose name ends in ``loss``) is not finite, or has grown to more than
  :data:`LOSS_GROWTH` times its size in the first epoch the watch saw (at least
  :data:`LOSS_FLOOR`, so that a loss starting near zero is not compared with noise).

It only warns: training goes on (a loss that makes the weights non-finite stops it elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from maze_core import statistics

#: a loss this many times its first epoch's size (three orders of magnitude) counts as diverging
LOSS_GROWTH = 1000.0
#: the smallest first-epoch size a loss's growth is measured from
LOSS_FLOOR = 0.01


class DivergenceWatch:
    """Warns (:func:`maze_core.statistics.log_message`) when an epoch's statistics diverge."""

    def __init__(self, config):
        #: ``{statistic: (limit, advice)}`` of the algorithm
        self.limits: dict[str, tuple[float, str]] = dict(getattr(type(config), "warning_limits", {}))
        self._lr = getattr(config, "lr", None)
        self._first: dict[str, tuple[int, float]] = {}  # loss -> (epoch, size)
        self._warned: set[str] = set()

    def check(self, epoch: int, stats: Mapping[str, float]) -> list[str]:
        """Warn about what diverges in the statistics of ``epoch``; returns the lines written."""
        lines = []
        for name, value in stats.items():
            line = None if name in self._warned else self._problem(epoch, name, float(value))
            if line is not None:
                self._warned.add(name)
                statistics.log_message(line)
                lines.append(line)
        return lines

    def _problem(self, epoch: int, name: str, value: float) -> str | None:
        if name in self.limits:
            limit, advice = self.limits[name]
            if value > limit:
                return f"Warning: {name} is {value:.3g} in epoch {epoch} (above {limit:g}): {advice}"
            return None
        if not name.endswith("loss"):
            return None
        if not math.isfinite(value):
            return f"Warning: {name} is {value} in epoch {epoch}: training diverges; {self._advice()}"
        first_epoch, first = self._first.setdefault(name, (epoch, abs(value)))
        if abs(value) > LOSS_GROWTH * max(first, LOSS_FLOOR):
            return (
                f"Warning: {name} grew from {first:.3g} in epoch {first_epoch} to {value:.3g} in epoch "
                f"{epoch}: training diverges; {self._advice()}"
            )
        return None

    def _advice(self) -> str:
        lr = f" (now {self._lr:g})" if isinstance(self._lr, int | float) else ""
        return (
            f"lower algorithm.lr{lr} or clip gradients (algorithm.max_grad_norm); tuned settings: "
            "--preset zoo where the env has them (docs/presets.md)"
        )

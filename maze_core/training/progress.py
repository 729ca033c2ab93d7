"""Live progress of a training run: what the trainer reports while an epoch runs.

The trainer calls a :class:`Progress` at a few points of each epoch (updates, evaluation
episodes); the base class does nothing, so a trainer without a console pays nothing.
:class:`ConsoleProgress` draws one line on a terminal: the epoch, a bar over the current phase
(updates, then evaluation episodes), the env steps (of the budget, when it is in env steps), the
latest mean return and an estimate of the time left, from the pace so far towards the budget.
Off a terminal (a pipe, a CI log) the per-epoch rows of the console table are the progress, so
nothing is drawn.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maze_core.training.epochs import Budget


class Progress:
    """What a trainer reports while it runs; every method does nothing here."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def start(self, epoch: int, env_steps: int, budget: Budget) -> None:
        """Training starts after ``epoch`` finished epochs and ``env_steps`` env steps, until ``budget``."""

    def start_epoch(self, epoch: int, n_updates: int) -> None:
        """Epoch ``epoch`` (1-based) starts; it has ``n_updates`` updates."""

    def update_done(self, env_steps: int) -> None:
        """One update finished; ``env_steps`` is the run's total so far."""

    def start_evaluation(self, n_episodes: int | None) -> None:
        """The epoch's evaluation starts (``n_episodes`` None: unknown)."""

    def episode_done(self) -> None:
        """One evaluation episode finished."""

    def end_epoch(self, mean_return: float | None) -> None:
        """The epoch finished with this mean return (evaluation, else training; None: no episode)."""


class ConsoleProgress(Progress):
    """A one-line progress display (rich) on a terminal; use it as a context manager."""

    def __init__(self, console):
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as RichProgress

        self._rich = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task = self._rich.add_task("starting", total=None, info="")
        self._epoch = 0
        self._first_epoch = self._first_steps = 0
        self._budget_epochs: int | None = None
        self._budget_steps: int | None = None
        self._n_updates = 1
        self._updates = 0
        self._started = time.monotonic()
        self._env_steps = 0
        self._return: float | None = None

    def __enter__(self) -> ConsoleProgress:
        self._rich.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._rich.stop()

    def start(self, epoch: int, env_steps: int, budget: Budget) -> None:
        self._first_epoch, self._first_steps, self._env_steps = epoch, env_steps, env_steps
        self._budget_epochs, self._budget_steps = budget.epochs, budget.env_steps
        self._started = time.monotonic()

    def start_epoch(self, epoch: int, n_updates: int) -> None:
        self._epoch, self._n_updates, self._updates = epoch, max(n_updates, 1), 0
        self._show(f"epoch {self._epoch_text()}", completed=0, total=self._n_updates)

    def update_done(self, env_steps: int) -> None:
        self._updates += 1
        self._env_steps = env_steps
        self._show(f"epoch {self._epoch_text()}", completed=self._updates, total=self._n_updates)

    def start_evaluation(self, n_episodes: int | None) -> None:
        self._show(f"eval  {self._epoch_text()}", completed=0, total=n_episodes)

    def episode_done(self) -> None:
        self._rich.advance(self._task)
        self._rich.update(self._task, info=self._info())

    def end_epoch(self, mean_return: float | None) -> None:
        self._return = mean_return

    def _epoch_text(self) -> str:
        return f"{self._epoch}/{self._budget_epochs}" if self._budget_epochs else str(self._epoch)

    def _show(self, description: str, completed: int, total: int | None) -> None:
        """Update the line; draw it at once when the phase changes (short phases are seen too)."""
        changed = description != self._rich.tasks[0].description
        self._rich.update(
            self._task, description=description, completed=completed, total=total, info=self._info()
        )
        if changed:
            self._rich.refresh()

    def _info(self) -> str:
        from maze_core.training.writers import compact

        budget = f"/{compact(self._budget_steps)}" if self._budget_steps else ""
        parts = [f"{compact(self._env_steps)}{budget} steps"]
        if self._return is not None:
            parts.append(f"return {compact(self._return)}")
        parts.append(f"ETA {self._eta()}")
        return "  ".join(parts)

    def _eta(self) -> str:
        """Time left, from the pace so far (evaluation included once an epoch has finished)."""
        if self._budget_steps:
            done = (self._env_steps - self._first_steps) / (self._budget_steps - self._first_steps)
        elif self._budget_epochs:
            epochs = self._epoch - 1 - self._first_epoch + self._updates / self._n_updates
            done = epochs / (self._budget_epochs - self._first_epoch)
        else:
            return "-"
        if done <= 0:
            return "-"
        seconds = (time.monotonic() - self._started) * max(1 - done, 0) / done
        minutes, seconds = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

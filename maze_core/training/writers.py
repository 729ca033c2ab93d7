"""Statistics writers: a compact console table, JSON lines and TensorBoard event files."""

from __future__ import annotations

import json
import secrets
import textwrap
import time
from pathlib import Path

from maze_core import statistics
from maze_core.run_dir import append_line
from maze_core.training.callbacks import env_steps_at, flat_statistics
from maze_core.training.event_file import EventFile

#: statistics the trainer adds to the algorithm's own (shown in fixed columns, or only in the files)
_TRAINER_STATISTICS = ("learning_rate", "steps_per_second", "epoch_time", "env_steps")
#: the lists of statistics a console has named as not shown, each said once per process
_NOTED: set[tuple[str, ...]] = set()
#: short console labels for common words of statistics names (``policy_grad_norm`` -> ``pi_grad``)
_ABBREVIATIONS = {
    "policy": "pi",
    "value": "v",
    "critic": "vf",
    "entropy": "entropy",
    "fraction": "frac",
    "approx": "",
    "norm": "",
    "explained": "expl",
    "variance": "var",
}


def _label(name: str) -> str:
    words = [_ABBREVIATIONS.get(word, word) for word in name.split("_")]
    return "_".join(word for word in words if word) or name


class ConsoleWriter:
    """One aligned row per epoch: epoch, env steps, training and evaluation return, the algorithm's
    headline statistics, the episode length where it tells something, steps/s and a ``*`` when the
    epoch's model is the new best.

    The columns are fixed at the first epoch. The algorithm's statistics are those ``columns``
    names (a trainer's ``headline_statistics``), in that order, shown from the first row even where
    a statistic has no value yet (``-``); without ``columns``, those of the first epoch. In a pipe
    or a file every one of them is shown, however wide the rows get; on a terminal as many as fit
    its width, and the others are named once per process above the header. The episode length
    gets a column only where one is left within the width and it is not the return over again
    (CartPole's is). Every statistic is in ``stats.jsonl`` and TensorBoard. Off a terminal the
    rows are plain text, without escape codes.
    """

    def __init__(self, console=None, columns: tuple[str, ...] | None = None):
        self.console = console or make_console()
        self._columns: list[tuple[str, int, object]] | None = None
        self._algorithm_columns = columns

    def write(self, step: int, stats: dict[str, statistics.Stats]) -> None:
        if self._columns is None:
            self._columns = self._choose_columns(stats)
            header = "  ".join(label.rjust(width) for label, width, _ in self._columns)
            self.console.print(header.rstrip(), style="bold", soft_wrap=True, markup=False)
        cells = [get(step, stats).rjust(width) for _, width, get in self._columns]
        row = "  ".join(cells).rstrip()
        if row.endswith("*"):
            row = f"{row[:-1]}[bold green]*[/]"
        self.console.print(row, soft_wrap=True)  # a narrow terminal wraps it; rich never breaks a row

    def _choose_columns(self, stats: dict[str, statistics.Stats]) -> list[tuple[str, int, object]]:
        def value(prefix: str, name: str, convert=float):
            def get(step, s):
                found = s.get(prefix, {}).get(name)
                return compact(None if found is None else convert(found))

            return get

        head = [
            ("epoch", 5, lambda step, s: str(step)),
            ("steps", 6, value("algorithm", "env_steps", int)),
            ("return", 6, value("train", "episode_return_mean")),
            ("eval", 6, value("eval", "episode_return_mean")),
        ]
        tail = [
            ("steps/s", 7, value("algorithm", "steps_per_second", round)),
            ("best", 4, lambda step, s: "*" if s.get("model_selection", {}).get("new_best") else ""),
        ]
        names = self._algorithm_columns if self._algorithm_columns is not None else stats.get("algorithm", {})
        room = self.console.width - sum(width + 2 for _, width, _ in head + tail) + 2
        shown, hidden = [], []
        for name in (name for name in names if name not in _TRAINER_STATISTICS):
            label = _label(name)
            width = max(7, len(label))
            if width + 2 <= room or not self.console.is_terminal:
                shown.append((label, width, value("algorithm", name)))
                room -= width + 2
            else:
                hidden.append(name)
        train = stats.get("train", {})
        length, episode_return = train.get("episode_length_mean"), train.get("episode_return_mean")
        if room >= 8 and length is not None and episode_return is not None and length != abs(episode_return):
            shown.append(("length", 6, value("train", "episode_length_mean")))
        if hidden and tuple(hidden) not in _NOTED:
            _NOTED.add(tuple(hidden))
            note = f"Not shown at this width (see stats.jsonl or TensorBoard): {', '.join(hidden)}"
            for line in textwrap.wrap(note, width=min(self.console.width, 100)):
                self.console.print(line, style="dim")
        return head + shown + tail

    def message(self, text: str) -> None:
        self.console.print(text, style="yellow", markup=False)

    def close(self) -> None:
        pass


def make_console(stderr: bool = False):
    """A rich console for run output: colours on a terminal, plain text elsewhere, no highlighting."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


class JsonLinesWriter:
    """Appends one JSON object per epoch to ``stats.jsonl``:
    ``{"epoch": n, "time": <unix time>, "<prefix>": {...}}`` (atomically: the file holds whole
    lines only)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, step: int, stats: dict[str, statistics.Stats]) -> None:
        append_line(self.path, json.dumps({"epoch": step, "time": round(time.time(), 3), **stats}))

    def close(self) -> None:
        pass


class TensorBoardWriter:
    """Scalars under ``<prefix>/<name>`` in TensorBoard event files in ``log_dir``.

    The x axis is the run's env steps (``algorithm/env_steps``) when the statistics have them, so
    curves of runs with different epoch sizes compare; the epoch is logged as ``train/epoch``.
    """

    def __init__(self, log_dir: str | Path):
        # a random suffix: nobody can place a link at the event file's name beforehand
        self.events = EventFile(log_dir, suffix=f".{secrets.token_hex(4)}")

    def write(self, step: int, stats: dict[str, statistics.Stats]) -> None:
        self.events.add_scalars({"train/epoch": step, **flat_statistics(stats)}, env_steps_at(step, stats))

    def close(self) -> None:
        self.events.close()


def setup_logging(
    job_config=None, log_dir: str | Path = ".", console=True, columns: tuple[str, ...] | None = None
) -> list:
    """Register the writers of a run: JSON lines and TensorBoard in ``log_dir``, and the console
    (``console``: True for a new rich console, a rich ``Console`` to print to, or False; ``columns``:
    the algorithm statistics it shows, see :class:`ConsoleWriter`).

    ``job_config`` is accepted for compatibility with the original Maze API; the resolved config is
    written by the RunContext. Returns the writers, to be removed with
    ``maze_core.statistics.remove_writer``.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    writers = [JsonLinesWriter(log_dir / "stats.jsonl"), TensorBoardWriter(log_dir)]
    if console:
        writers.append(ConsoleWriter(None if console is True else console, columns=columns))
    for writer in writers:
        statistics.register_writer(writer)
    return writers


def compact(value: float | int | None) -> str:
    """A number for a console column: 7 characters at most for magnitudes from 1e-9 to 1e8
    (``163.8k``, ``1.25M``, ``2048``, ``487.3``, ``12.34``, ``-0.0123``, ``-1.2e-5``); counts
    (ints) in thousands from 1000 on, so that a column of them reads alike (``640``, ``1.6k``,
    ``10.2k``); ``-`` for None."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.2f}M"
    if magnitude >= 1e4 or (isinstance(value, int) and magnitude >= 1e3):
        return f"{value / 1e3:.1f}k"
    if isinstance(value, int) or magnitude == 0:
        return str(int(value))
    if magnitude >= 1000:
        return f"{value:.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude >= 1e-3:
        return f"{value:.4f}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"

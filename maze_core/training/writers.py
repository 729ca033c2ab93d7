"""Statistics writers: a compact console table, JSON lines and TensorBoard event files."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from maze_core import statistics
from maze_core.run_dir import append_line

# the statistics shown in the console table, in order, with short labels; everything goes to the files
_CONSOLE_COLUMNS = {
    "train": [
        ("episode_return_mean", "return"),
        ("episode_return_min", "min"),
        ("episode_return_max", "max"),
        ("episode_length_mean", "length"),
        ("episode_count", "episodes"),
    ],
    "eval": [
        ("episode_return_mean", "return"),
        ("episode_return_min", "min"),
        ("episode_return_max", "max"),
        ("episode_length_mean", "length"),
        ("episode_count", "episodes"),
    ],
    "algorithm": [
        ("policy_loss", "policy loss"),
        ("value_loss", "value loss"),
        ("entropy", "entropy"),
        ("policy_grad_norm", "policy grad"),
        ("critic_grad_norm", "critic grad"),
        ("steps_per_second", "steps/s"),
    ],
}


class ConsoleWriter:
    """One compact table per epoch: a row per source (train, eval, algorithm)."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console()

    def write(self, step: int, stats: dict[str, statistics.Stats]) -> None:
        from rich.table import Table

        table = Table(title=f"epoch {step}", title_justify="left", box=None, pad_edge=False)
        table.add_column("", style="bold")
        table.add_column("statistics")
        for prefix, values in stats.items():
            columns = _CONSOLE_COLUMNS.get(prefix) or [(name, name) for name in sorted(values)]
            shown = [f"{label} [cyan]{_format(values[name])}[/]" for name, label in columns if name in values]
            table.add_row(prefix, "  ".join(shown))
        self.console.print(table)

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]")

    def close(self) -> None:
        pass


class JsonLinesWriter:
    """Appends one JSON object per epoch to ``stats.jsonl``: ``{"epoch": n, "<prefix>": {...}}``
    (atomically: the file holds whole lines only)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, step: int, stats: dict[str, statistics.Stats]) -> None:
        append_line(self.path, json.dumps({"epoch": step, **stats}))

    def close(self) -> None:
        pass


class TensorBoardWriter:
    """Scalars under ``<prefix>/<name>`` in TensorBoard event files in ``log_dir``."""

    def __init__(self, log_dir: str | Path):
        from torch.utils.tensorboard import SummaryWriter

        # a random suffix: nobody can place a link at the event file's name beforehand
        self.summary = SummaryWriter(log_dir=str(log_dir), filename_suffix=f".{secrets.token_hex(4)}")

    def write(self, step: int, stats: dict[str, statistics.Stats]) -> None:
        for prefix, values in stats.items():
            for name, value in values.items():
                self.summary.add_scalar(f"{prefix}/{name}", value, step)
        self.summary.flush()

    def close(self) -> None:
        self.summary.close()


def setup_logging(job_config=None, log_dir: str | Path = ".", console: bool = True) -> list:
    """Register the writers of a run: JSON lines and TensorBoard in ``log_dir``, and the console.

    ``job_config`` is accepted for compatibility with the original Maze API; the resolved config is
    written by the RunContext. Returns the writers, to be removed with
    ``maze_core.statistics.remove_writer``.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    writers = [JsonLinesWriter(log_dir / "stats.jsonl"), TensorBoardWriter(log_dir)]
    if console:
        writers.append(ConsoleWriter())
    for writer in writers:
        statistics.register_writer(writer)
    return writers


def _format(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}" if abs(value) < 1e-2 else f"{value:.2f}"

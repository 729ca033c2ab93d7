"""Learning curves: the mean return of one or more runs against env steps or wall time.

Reads the runs' ``stats.jsonl`` (and ``config.json`` to group runs), draws with matplotlib and
writes the figure atomically. Runs set up alike (the same recorded arguments, apart from the seed,
the number of epochs and the device) form one curve: the mean over the runs, with a band from the
lowest to the highest run, at the points where runs were evaluated (the others interpolated), over
the range of env steps (or time) that all of them reached. The evaluation return is drawn when
every run has one, else the training return. Runs of different envs get one panel per env: their
returns are on different scales.

matplotlib is imported by :func:`write_curve` only, so training and ``maze plugins list`` never
load it; numpy only when curves are read, so ``maze --help`` stays fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from maze_core.errors import ConfigurationError
from maze_core.run_dir import CONFIG_FILE, STATS_FILE, atomic_write, read_stats

if TYPE_CHECKING:
    import numpy as np

X_AXES = ("steps", "time")


@dataclass
class RunCurve:
    """One run's curve: ``x`` (env steps or seconds) and the mean return of each epoch."""

    run_dir: Path
    group: str  # runs with the same group are drawn as one curve
    label: str
    x: np.ndarray
    y: np.ndarray
    env: str = ""  # runs of different envs are drawn in different panels


@dataclass
class WrittenPlot:
    """What :func:`write_curve` wrote: the file, and what a reader of it should be told."""

    path: Path
    notes: list[str]


def load_curves(run_dirs, x: str = "steps", source: str | None = None) -> tuple[list[RunCurve], str]:
    """The curves of ``run_dirs`` and the statistics source drawn (``"eval"`` or ``"train"``).

    ``source`` None picks ``eval`` when every run has evaluation returns, else ``train``.
    """
    import numpy as np

    from maze_core.run_context import load_run_config

    if x not in X_AXES:
        raise ConfigurationError(f"x axis {x!r}: choose one of {', '.join(X_AXES)}")
    runs = []
    for run_dir in map(Path, run_dirs):
        config = _checked_config(load_run_config(run_dir), run_dir / CONFIG_FILE)
        lines = _read_stats(run_dir)
        runs.append((run_dir, config, lines))
    if source is None:
        has_eval = all(
            any("episode_return_mean" in line.get("eval", {}) for line in lines) for *_, lines in runs
        )
        source = "eval" if has_eval else "train"
    labels = _labels([config for _, config, _ in runs])
    curves = []
    for (run_dir, config, lines), label in zip(runs, labels, strict=True):
        points = [
            (_x(line, x), line[source]["episode_return_mean"])
            for line in lines
            if "episode_return_mean" in line.get(source, {})
        ]
        if x == "time":
            start = _start_time(lines)
            points = [(t - start, y) for t, y in points]
        if not points:
            raise ConfigurationError(f"{run_dir / STATS_FILE} has no {source} return to plot yet")
        xs, ys = (np.asarray(values, dtype=np.float64) for values in zip(*points, strict=True))
        curves.append(RunCurve(run_dir, _group_key(config), label, xs, ys, env=str(config.get("env"))))
    return curves, source


def write_curve(run_dirs, output: str | Path, x: str = "steps", title: str | None = None) -> WrittenPlot:
    """Draw the learning curves of ``run_dirs`` into ``output`` (PNG, SVG or PDF, by its suffix)."""
    output = Path(output)
    file_format = output.suffix.lower().lstrip(".")
    if file_format not in ("png", "svg", "pdf"):
        raise ConfigurationError(f"{output}: write the figure to a .png, .svg or .pdf file")
    curves, source = load_curves(run_dirs, x=x)

    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    panels: dict[str, dict[str, list[RunCurve]]] = {}  # env -> group -> its runs
    for curve in curves:
        panels.setdefault(curve.env, {}).setdefault(curve.group, []).append(curve)
    height = 4.5 if len(panels) == 1 else 0.5 + 3.2 * len(panels)
    figure = Figure(figsize=(8, height), dpi=100, layout="constrained")
    for index, (env, groups) in enumerate(panels.items()):
        axes = figure.add_subplot(len(panels), 1, index + 1)
        for members in groups.values():
            _draw_group(axes, members)
        axes.set_xlabel("env steps" if x == "steps" else "wall time [s]")
        axes.set_ylabel(f"mean {'evaluation' if source == 'eval' else 'training'} return")
        axes.set_title(env if len(panels) > 1 else title or _title(curves))
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
        if x == "steps":
            from matplotlib.ticker import FuncFormatter

            axes.xaxis.set_major_formatter(FuncFormatter(_steps_label))
    if len(panels) > 1 and title:
        figure.suptitle(title)
    # a temporary file renamed over ``output``: never half a figure, never through a link
    atomic_write(output, lambda file: figure.savefig(file, format=file_format))
    notes = []
    if any(len(members) > 1 for groups in panels.values() for members in groups.values()):
        notes.append(
            f"A curve of several runs is their mean; its band spans their lowest to highest ({BAND})."
        )
    if len(panels) > 1:
        notes.append(
            f"The runs are of {len(panels)} envs ({', '.join(panels)}), whose returns do not compare: "
            "one panel each."
        )
    return WrittenPlot(output, notes)


#: what a band around the mean of several runs spans, as the legend says it
BAND = "band min–max"


def _draw_group(axes, members: list[RunCurve]) -> None:
    """One curve: a run's returns, or the mean of runs set up alike with a band from their lowest
    to their highest."""
    grid, mean, low, high = mean_and_band(members)
    label = members[0].label
    if len(members) > 1:
        runs = f"mean of {len(members)} runs, {BAND}"
        label = f"{label[:-1]}; {runs})" if label.endswith(")") else f"{label} ({runs})"
    marker = "o" if len(grid) <= 50 else None  # a run's evaluations are points; one epoch is one
    (line,) = axes.plot(grid, mean, label=label, linewidth=1.8, marker=marker, markersize=3.5)
    if len(members) > 1:
        axes.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def mean_and_band(curves: list[RunCurve]):
    """Mean, lowest and highest of ``curves`` at every x where one of them was evaluated (the
    others linearly interpolated there).

    Only the range every run reached is covered (a run stopped early by a target return ends the
    curve there), so each point averages all runs.
    """
    import numpy as np

    start = max(curve.x[0] for curve in curves)
    stop = min(curve.x[-1] for curve in curves)
    grid = np.unique(np.concatenate([curve.x for curve in curves]))
    grid = grid[(grid >= start) & (grid <= stop)]
    values = np.stack([np.interp(grid, curve.x, curve.y) for curve in curves])
    return grid, values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def _steps_label(value: float, position=None) -> str:
    """Env steps as ``0``, ``500``, ``2.5k``, ``1.2M``."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _read_stats(run_dir: Path) -> list[dict]:
    stats = read_stats(run_dir)
    if not stats:
        raise ConfigurationError(f"{run_dir} has no {STATS_FILE}: the run has not finished an epoch yet")
    return stats


def _checked_config(config: dict, path: Path) -> dict:
    """``config`` if the parts a plot reads (the recorded arguments, to group and label runs) have
    the types Maze writes, else a one-line ConfigurationError naming the field."""
    arguments = config.get("arguments")
    if arguments is not None and not isinstance(arguments, dict):
        raise ConfigurationError(f"{path}: arguments must be an object, got {type(arguments).__name__}")
    overrides = (arguments or {}).get("overrides")
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigurationError(
            f"{path}: arguments.overrides must be an object, got {type(overrides).__name__}"
        )
    return config


def _x(line: dict, x: str) -> float:
    if x == "steps":
        return float(line.get("algorithm", {}).get("env_steps", line["epoch"]))
    return float(line["time"])


def _start_time(lines: list[dict]) -> float:
    """When the run started: its first epoch's end minus that epoch's training time."""
    first = lines[0]
    return float(first["time"]) - float(first.get("algorithm", {}).get("epoch_time", 0.0))


#: recorded arguments that say how long or where a run trained, not how: runs differing only in
#: these (and the seed) are drawn as one curve
_NOT_GROUPED = ("device", "overrides.algorithm.n_epochs", "overrides.algorithm.n_env_steps")


def _setup(config: dict) -> dict:
    """The recorded arguments of a run, without those in :data:`_NOT_GROUPED`."""
    arguments = dict(
        config.get("arguments") or {"env": config.get("env"), "algorithm": config.get("algorithm")}
    )
    arguments["overrides"] = dict(arguments.get("overrides") or {})
    for path in _NOT_GROUPED:
        section, _, key = path.partition(".")
        (arguments[section] if key else arguments).pop(key or section, None)
    return arguments


def _group_key(config: dict) -> str:
    """Runs set up alike (apart from the seed, the budget and the device) share this key."""
    return json.dumps(_setup(config), sort_keys=True, default=str)


def _labels(configs: list[dict]) -> list[str]:
    """``<env> <algorithm>``, plus the overrides that tell curves with the same name apart."""
    names = [f"{config.get('env')} {_name(config.get('algorithm'))}" for config in configs]
    overrides = [_setup(config)["overrides"] for config in configs]
    labels = []
    for name, own in zip(names, overrides, strict=True):
        others = [o for n, o in zip(names, overrides, strict=True) if n == name and o != own]
        differing = [key for key in own if any(other.get(key) != own[key] for other in others)]
        differing += [key for other in others for key in other if key not in own]
        extra = ", ".join(
            f"{key.split('.', 1)[-1]}={own.get(key, 'default')}" for key in sorted(set(differing))
        )
        labels.append(f"{name} ({extra})" if extra else name)
    return labels


def _name(algorithm) -> str:
    return algorithm.get("name", "?") if isinstance(algorithm, dict) else str(algorithm)


def _title(curves: list[RunCurve]) -> str:
    return ", ".join(dict.fromkeys(curve.env for curve in curves))

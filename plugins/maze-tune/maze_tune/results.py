"""What a study leaves: its trials as :class:`TrialResult` rows, ``best.json`` (the best trial's
settings, for ``maze train --config``), ``history.png``, and what the console shows of them.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maze_tune.space import field_names, typed_params
from maze_tune.trial import COMPLETE, FAILED, PRUNED, trial_dir

BEST_FILE = "best.json"
HISTORY_FILE = "history.png"


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """One trial of the study, as the results table shows it."""

    number: int
    state: str  #: complete, pruned, failed or running
    value: float | None  #: the mean over seeds of each run's best evaluation return
    returns: list[float]  #: each seed's best evaluation return
    params: dict[str, Any]
    reason: str | None  #: why it was pruned or failed
    node: str | None  #: the Ray node it ran on (None: not on Ray)
    run_dir: Path  #: the trial's directory: one run directory per seed
    last_value: float | None  #: the last evaluation return it reported (a pruned trial's last word)


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` leaves: the study's trials and the files written from them."""

    study_dir: Path
    trials: list[TrialResult]  #: every trial of the study, by number
    best: TrialResult | None  #: the complete trial of the highest value (None before one)
    best_config: Path | None  #: ``best.json``: ``maze train --config`` trains with its settings
    history_plot: Path | None  #: ``history.png``: each trial's value and the best so far

    def count(self, state: str) -> int:
        return sum(trial.state == state for trial in self.trials)


def collect(study, spec: dict[str, Any], study_dir: Path, out) -> TuneResult:
    """The trials, ``best.json`` and ``history.png``; printed as a table of the best trials."""
    rows = [_trial_result(trial, study_dir) for trial in study.get_trials(deepcopy=False)]
    complete = [row for row in rows if row.state == COMPLETE]
    best = max(complete, key=lambda row: row.value) if complete else None
    best_config = history = None
    if best is not None:
        best_config = _write_best_config(study_dir / BEST_FILE, spec, best)
        history = _write_history(study_dir / HISTORY_FILE, rows, spec)
    result = TuneResult(study_dir, rows, best, best_config, history)
    if out is not None:
        _print_results(out, result)
    return result


def _trial_result(trial, study_dir: Path) -> TrialResult:
    return TrialResult(
        number=trial.number,
        state=_STATES.get(trial.state.name, trial.state.name.lower()),
        value=trial.value,
        returns=list(trial.user_attrs.get("returns", [])),
        params=dict(trial.params),
        reason=trial.user_attrs.get("reason"),
        node=trial.user_attrs.get("node"),
        run_dir=trial_dir(study_dir, trial.number),
        last_value=_last_value(trial.intermediate_values),
    )


_STATES = {"COMPLETE": COMPLETE, "PRUNED": PRUNED, "FAIL": FAILED}


def _last_value(values: dict[int, float]) -> float | None:
    return values[max(values)] if values else None


def _best_arguments(spec: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The RunContext arguments of a trial's runs (what a run's ``config.json`` records as its
    ``arguments``): the study's settings, the preset's among the overrides, and the parameters."""
    from maze_core.presets import find_preset, with_preset

    names = spec["names"]
    preset = find_preset(spec["preset"], names["algorithm"], spec["env"])
    overrides = typed_params(params, field_names(names))
    return {
        "env": spec["env"],
        **names,
        "wrappers": None,
        "overrides": with_preset(preset, {**spec["overrides"], **overrides}),
        "device": None,
    }


def _write_best_config(path: Path, spec: dict[str, Any], best: TrialResult) -> Path:
    from maze_core.run_dir import write_text

    config = {
        "arguments": _best_arguments(spec, best.params),
        "tune": {"trial": best.number, "value": best.value, "returns": best.returns, "params": best.params},
    }
    write_text(path, json.dumps(config, indent=2) + "\n")
    return path


def _write_history(path: Path, rows: list[TrialResult], spec: dict[str, Any]) -> Path:
    """Each complete trial's value, each pruned trial's last reported return, and the best so far."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    from matplotlib.ticker import MaxNLocator

    from maze_core.run_dir import atomic_write

    figure = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    complete = [row for row in rows if row.state == COMPLETE]
    numbers = [row.number for row in complete]
    axes.plot(numbers, [row.value for row in complete], "o", label="trial (mean of its seeds)")
    best, best_so_far = -math.inf, []
    for row in complete:
        best = max(best, row.value)
        best_so_far.append(best)
    axes.step(numbers, best_so_far, where="post", color="C1", label="best so far")
    pruned = [row for row in rows if row.state == PRUNED and row.last_value is not None]
    if pruned:
        x, y = [row.number for row in pruned], [row.last_value for row in pruned]
        axes.plot(x, y, "x", color="0.5", label="pruned (last evaluation return)")
    axes.set_xlabel("trial")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("mean best evaluation return")
    axes.set_title(f"Optimization history: {spec['env']}, {spec['names']['algorithm']}")
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    atomic_write(path, lambda file: figure.savefig(file, format="png"))
    return path


def console():
    from maze_core.cli_app import console

    return console()


def progress_line(study, number: int, params: Mapping[str, Any], outcome: dict, n_trials: int) -> str:
    """One line per finished trial: its parameters and its value, or why it was pruned or failed."""
    from optuna.trial import TrialState
    from rich.markup import escape

    finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    settings = " ".join(f"{field}={_short(value)}" for field, value in params.items())
    if outcome["state"] == COMPLETE:
        seeds = ", ".join(f"{value:.4g}" for value in outcome["returns"])
        what = f"[green]{outcome['value']:.4g}[/] (seeds: {seeds})"
    else:
        what = f"[yellow]{outcome['state']}[/]: {escape(outcome.get('reason') or '')}"
    return f"Trial {number} ({finished}/{n_trials}) {escape(settings)}: {what}"


def _print_results(out, result: TuneResult, shown: int = 10) -> None:
    """The best trials as a table, what the study holds, and where its results are."""
    import shlex

    from rich.markup import escape
    from rich.table import Table

    counts = ", ".join(f"{result.count(state)} {state}" for state in (COMPLETE, PRUNED, FAILED))
    out.print(f"\nStudy {escape(str(result.study_dir))}: {len(result.trials)} trials ({counts}).")
    ranked = sorted((row for row in result.trials if row.state == COMPLETE), key=lambda row: -row.value)
    if not ranked:
        out.print("No trial completed yet, so there is no best configuration.")
        return
    table = Table(title=f"Best trials (of {len(ranked)} complete)", title_justify="left")
    for column in ("trial", "value", "seeds' best returns", *ranked[0].params):
        table.add_column(column, justify="right" if column != "seeds' best returns" else "left")
    for row in ranked[:shown]:
        seeds = ", ".join(f"{value:.4g}" for value in row.returns)
        params = (_short(row.params.get(field)) for field in ranked[0].params)
        table.add_row(str(row.number), f"{row.value:.4g}", seeds, *params)
    out.print(table)
    config = escape(shlex.quote(str(result.best_config)))
    out.print(f"Best configuration: {escape(str(result.best_config))} (trial {result.best.number})")
    out.print(f"Optimization history: {escape(str(result.history_plot))}")
    out.print(f"Train with it:  [bold]maze train --config {config}[/]")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

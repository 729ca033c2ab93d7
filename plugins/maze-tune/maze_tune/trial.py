"""One trial: a run per seed with the trial's parameters, reported to the study epoch by epoch.

:func:`run_trial` runs where the trial runs (this process, a worker process or a Ray task) and
reaches the study through its storage: each epoch's evaluation return goes to the trial as an
intermediate value, and the study's pruner, asked after each epoch, may stop it. It returns what
happened as plain data; the process that asked for the trial tells the study.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from maze_core.training.callbacks import Callback, StopTraining

COMPLETE, PRUNED, FAILED = "complete", "pruned", "failed"


def trial_dir(study_dir: str | Path, number: int) -> Path:
    """The directory of trial ``number``: one run directory per seed below it."""
    return Path(study_dir) / "trials" / f"{number:04d}"


def run_trial(spec: dict[str, Any], trial_id: int, number: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """Train one run per seed of ``spec["seeds"]`` with ``overrides`` on top of the study's own.

    Returns ``{"state": "complete", "value": mean best evaluation return, "returns": [per seed]}``,
    ``{"state": "pruned", "reason": ...}`` (by the pruner, or because training diverged), or
    ``{"state": "failed", "reason": ...}``; a Ctrl-C or SIGTERM propagates.
    """
    import optuna

    from maze_core.errors import MazeError, TrainingError
    from maze_core.run_context import RunContext

    trial = optuna.trial.Trial(_study(spec["storage"], spec["study_name"], spec["pruner"]), trial_id)
    pruning = _Pruning(trial)
    returns = []
    for seed in spec["seeds"]:
        try:
            context = RunContext(
                env=spec["env"],
                **spec["names"],
                overrides={**spec["overrides"], **overrides},
                preset=spec["preset"],
                run_dir=trial_dir(spec["study_dir"], number) / f"seed-{seed}",
                seed=seed,
                silent=True,
            )
            try:
                summary = context.train(callbacks=[pruning])
            finally:
                context.close()
        except TrainingError as error:  # a non-finite loss: the trial diverged
            return {"state": PRUNED, "reason": f"diverged with seed {seed}: {error}", "returns": returns}
        except MazeError as error:
            return {"state": FAILED, "reason": f"seed {seed}: {error}", "returns": returns}
        if pruning.reason is not None:
            return {"state": PRUNED, "reason": f"seed {seed}: {pruning.reason}", "returns": returns}
        if summary.best_return is None:
            return {"state": FAILED, "reason": f"seed {seed}: no evaluation return", "returns": returns}
        returns.append(summary.best_return)
    return {"state": COMPLETE, "value": sum(returns) / len(returns), "returns": returns}


class _Pruning(Callback):
    """Reports each epoch's mean evaluation return to the trial and stops the run when the pruner
    says so, or when the return is not finite.

    Steps count epochs over the trial's runs, one seed after the other, so that step ``k`` of two
    trials is the same epoch of the same seed."""

    def __init__(self, trial):
        self.trial = trial
        self.step = 0
        self.reason: str | None = None

    def on_epoch_end(self, epoch: int, stats: dict[str, dict[str, float]]) -> None:
        value = stats.get("eval", {}).get("episode_return_mean")
        if value is None:
            return  # no episode finished in this epoch's evaluation
        self.step += 1
        if not math.isfinite(value):
            self.reason = f"the evaluation return became {value} in epoch {epoch}"
            raise StopTraining(self.reason)
        self.trial.report(value, self.step)
        if self.trial.should_prune():
            self.reason = f"pruned after epoch {epoch} (evaluation return {value:.4g})"
            raise StopTraining(self.reason)


@functools.lru_cache(maxsize=4)
def _study(storage: str, study_name: str, pruner: str):
    """The study as a worker sees it: its storage, and the pruner that judges its trials (opened
    once per process)."""
    import optuna

    from maze_tune.study import make_pruner, open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=study_name, storage=open_storage(storage), pruner=make_pruner(pruner))


def one_line(error: BaseException) -> str:
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__

"""``maze tune``: :func:`maze_tune.study.tune` from the shell.

``maze --help`` imports this module (the plugin registers the command), so it imports typer and
nothing heavy; Optuna and torch load when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from maze_core.cli_app import console, user_errors
from maze_core.cli_options import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    AlgorithmOption,
    CriticOption,
    OverridesOption,
    PolicyOption,
    PresetOption,
    RunnerOption,
)
from maze_core.run_context import DEFAULT_ALGORITHM, DEFAULT_RUNNER
from maze_tune.space import FORMS_TEXT


def tune(
    env: Annotated[
        str,
        typer.Option(
            metavar="NAME", help="Env: a name registered by a plugin, or a gymnasium id.", show_default=False
        ),
    ],
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            metavar="SECTION.FIELD=DISTRIBUTION",
            help=f"A field to tune (any --set field) and its distribution: {FORMS_TEXT}; e.g. "
            "algorithm.lr=loguniform:1e-4:1e-2. Repeatable; goes over --space.",
        ),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="A YAML or JSON file of parameters, one 'SECTION.FIELD: DISTRIBUTION' per line.",
            show_default=False,
        ),
    ] = None,
    trials: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Finished trials the study should hold (earlier ones count)."),
    ] = 20,
    seeds: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Runs per trial; a trial's value is the mean of its runs' best evaluation returns.",
        ),
    ] = 2,
    seed: Annotated[
        int, typer.Option(min=0, metavar="N", help="Seed of each trial's first run (then N+1, ...).")
    ] = 0,
    jobs: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Trials at once (worker processes, or Ray tasks with --ray)."),
    ] = 1,
    ray: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Run the trials as Ray tasks on the cluster at ADDRESS: auto (the one this machine "
            "joined), ray://HOST:PORT, or local (a private instance).",
            show_default=False,
        ),
    ] = None,
    algorithm: AlgorithmOption = DEFAULT_ALGORITHM,
    runner: RunnerOption = DEFAULT_RUNNER,
    policy: PolicyOption = None,
    critic: CriticOption = None,
    overrides: OverridesOption = None,
    preset: PresetOption = None,
    study_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where the study's storage, trials and results go. Tuning into it again continues "
            "its study (also from another process at the same time).",
            show_default="outputs/tune/ENV-ALGORITHM",
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="An Optuna storage URL instead of DIR/study.db, e.g. a database all Ray nodes reach.",
            show_default=False,
        ),
    ] = None,
    sampler: Annotated[str, typer.Option(metavar="tpe|random", help="How parameters are sampled.")] = "tpe",
    pruner: Annotated[
        str,
        typer.Option(
            metavar="median|halving|none",
            help="Stops trials whose evaluation return falls behind, epoch by epoch.",
        ),
    ] = "median",
    sampler_seed: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Seed of the sampler, for a reproducible study (not when processes share one).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tune hyperparameters with Optuna: trials of several seeds each, pruned epoch by epoch; prints
    the best trials and writes the best configuration (for maze train --config) and a history plot."""
    from maze_core.errors import sigterm_as_interrupt

    with user_errors():
        try:
            with sigterm_as_interrupt(replace=True):
                from maze_core.overrides import parse_overrides
                from maze_tune import space as spaces
                from maze_tune.study import tune as run_study

                names = {"algorithm": algorithm, "policy": policy, "critic": critic, "runner": runner}
                searched = spaces.read_space_file(space) if space is not None else {}
                searched.update(spaces.split_param(text) for text in params or [])
                run_study(
                    env,
                    searched,
                    **names,
                    overrides=parse_overrides(overrides or [], spaces.field_names(names)),
                    preset=preset,
                    trials=trials,
                    seeds=seeds,
                    seed=seed,
                    jobs=jobs,
                    ray=ray,
                    study_dir=study_dir,
                    storage=storage,
                    sampler=sampler,
                    pruner=pruner,
                    sampler_seed=sampler_seed,
                )
        except KeyboardInterrupt as interrupt:
            _interrupted(interrupt, study_dir)


def _interrupted(interrupt: KeyboardInterrupt, study_dir: Path | None) -> None:
    """Ctrl-C or SIGTERM: the trials in progress are failed, the finished ones kept; the same command
    continues the study."""
    import signal

    from maze_core.errors import Terminated

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C changes nothing now
    where = f" in {study_dir}" if study_dir is not None else ""
    console(stderr=True).print(
        f"Interrupted: the study{where} keeps its finished trials. Run the same command again to continue it."
    )
    raise typer.Exit(EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED) from None

"""``maze train``: a :class:`~maze_core.run_context.RunContext` from the shell (``maze evaluate`` is
in :mod:`maze_core.cli_evaluate`, the options other commands share in :mod:`maze_core.cli_options`).

Importing this module adds the commands to :data:`maze_core.cli.app`. ``maze --help`` imports it,
so it must stay light: torch-based modules are imported inside the commands.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from maze_core.cli_app import MazeCommand, app, console, user_errors
from maze_core.cli_options import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    TRUST_HELP,
    AlgorithmOption,
    CriticOption,
    OverridesOption,
    PolicyOption,
    PresetOption,
    RunnerOption,
)
from maze_core.curve_process import CurveProcess
from maze_core.run_context import DEFAULT_ALGORITHM, DEFAULT_RUNNER
from maze_core.run_dir import BEST_MODEL_FILE, CURVE_FILE, read_stats

#: what ``--resume`` may change; everything else is the run's own configuration
RESUME_OPTIONS = (
    "resume",
    "epochs",
    "steps",
    "target_return",
    "device",
    "tracker",
    "trust_run_dir",
    "overrides",
)


@app.command(cls=MazeCommand, no_args_is_help=True)
def train(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Env: a name registered by a plugin, or a gymnasium id. Required (except with --resume).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Train with the settings in FILE: a run's config.json, or the best.json of maze tune "
            "(on a fresh seed); options given too go over them, --set over its overrides.",
            show_default=False,
        ),
    ] = None,
    algorithm: AlgorithmOption = DEFAULT_ALGORITHM,
    runner: RunnerOption = DEFAULT_RUNNER,
    policy: PolicyOption = None,
    critic: CriticOption = None,
    device: Annotated[
        str | None,
        typer.Option(
            metavar="DEVICE", help="Training device, e.g. cpu, cuda, cuda:1.", show_default="the algorithm's"
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            parser=lambda text: _env_steps(text),
            metavar="N",
            help="Env steps to train, e.g. 100000, 100k or 1e5 (with --resume: more to add); 0: no "
            "limit, until early stopping, the target return or Ctrl-C.",
            show_default="the algorithm's budget, shown when training starts",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="N",
            help="Epochs to train instead of --steps (with --resume: more to add); 0: no limit.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Seed of the run.", show_default="drawn and saved")
    ] = None,
    run_dir: Annotated[
        str | None,  # not a Path: typer would turn '' into '.'
        typer.Option(
            metavar="DIR",
            help="Where the run's files go; by default a new directory outputs/ENV-ALGO-RUNNER/TIME.",
            show_default=False,
        ),
    ] = None,
    overrides: OverridesOption = None,
    preset: PresetOption = None,
    target_return: Annotated[
        float | None, typer.Option(metavar="R", help="Stop once the mean evaluation return reaches R.")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            metavar="RUN_DIR",
            help="Continue the interrupted run in RUN_DIR, configured as it was, up to its budget. "
            "Only --steps or --epochs (more to train), --target-return, --device, --tracker, "
            "--trust-run-dir and --set of where this machine connects (runner.address) may be given "
            "with it.",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the Maze run in --run-dir; its files are removed once the new run is built.",
        ),
    ] = False,
    trust_run_dir: Annotated[bool, typer.Option("--trust-run-dir", help=TRUST_HELP)] = False,
    tracker: Annotated[
        list[str] | None,
        typer.Option(
            "--tracker",
            metavar="NAME",
            help="Also log each epoch's statistics to an experiment tracker a plugin provides, e.g. "
            "wandb or mlflow (configured by its own environment variables); repeatable.",
        ),
    ] = None,
) -> None:
    """Train an agent; the best model, a resumable checkpoint and the statistics go to a run directory."""
    context = None
    curve = CurveProcess()  # first: it imports matplotlib while this process imports torch
    with user_errors(), _interrupts_end_the_run(lambda: context), closing(curve):
        from maze_core.errors import ConfigurationError, signals_exit_at_once

        with signals_exit_at_once():  # an interrupt raised inside torch's import could be lost
            import numpy  # noqa: F401  (first: torch imports it from C, and goes on without it on error)

            import maze_core.agent  # noqa: F401  (torch and gymnasium)

        from maze_core.run_context import RunContext

        length = _training_length(epochs, steps)
        if resume is not None:
            _refuse_with_resume(ctx)
            context, target_return = _resumed_context(
                resume, target_return, device, trust_run_dir, overrides or []
            )
        else:
            if trust_run_dir:
                raise ConfigurationError("--trust-run-dir is for loading a run: give it with --resume")
            names = {"algorithm": algorithm, "policy": policy, "critic": critic, "runner": runner}
            recorded = {}
            if config is not None:  # the file's settings, where the command line gives none
                given = {**names, "env": env, "device": device}
                file = _config_file(config)
                given = {key: value if _given(ctx, key) else file.get(key) for key, value in given.items()}
                names, env, device = {key: given[key] for key in names}, given["env"], given["device"]
                recorded = file.get("overrides") or {}
            context = RunContext(
                env=_required_env(env),
                **names,
                overrides={
                    **recorded,
                    **_typed_overrides(overrides or [], _with_default_composers(names), length),
                },
                run_dir=run_dir,
                seed=seed,
                device=device,
                overwrite=overwrite,
                preset=preset,
            )
        epochs_before = _trained_epochs(context.run_dir) if resume is not None else 0
        try:
            try:
                context.train(target_return=target_return, callbacks=tracker, **length)
            except KeyboardInterrupt:
                _ignore_interrupts()  # a second Ctrl-C while the curve is drawn changes nothing
                _end_of_run(context.run_dir, epochs_before, curve)
                raise
            _end_of_run(context.run_dir, epochs_before, curve)
        finally:
            context.close()


# --- helpers ----------------------------------------------------------------------------------------


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` is on the command line (not its default)."""
    source = ctx.get_parameter_source(name)  # click's ParameterSource (typer bundles its own click)
    return source is not None and source.name != "DEFAULT"


def _config_file(path: Path) -> dict:
    """The RunContext arguments that ``--config FILE`` records (``{"arguments": {...}}``, as a run's
    config.json has them), checked as untrusted input: plain names and values only."""
    from maze_core.errors import ConfigurationError
    from maze_core.run_config import checked_arguments, python_objects
    from maze_core.run_dir import read_json

    if not path.is_file():
        raise ConfigurationError(f"--config {path}: no such file")
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigurationError(f"--config {path}: it holds no settings (a JSON object with 'arguments')")
    # only its arguments matter: the run gets a seed (and a target) of its own
    arguments = checked_arguments({"arguments": data.get("arguments"), "seed": 0}, path)
    objects = python_objects(arguments) or (["wrappers"] if arguments.get("wrappers") else [])
    if objects:
        raise ConfigurationError(
            f"--config {path}: its run was set up with Python objects ({', '.join(objects)}), which "
            "the command line cannot give; train it from Python"
        )
    return arguments


def _refuse_with_resume(ctx: typer.Context) -> None:
    from maze_core.errors import ConfigurationError

    refused = [p.opts[0] for p in ctx.command.params if p.name not in RESUME_OPTIONS and _given(ctx, p.name)]
    if refused:
        allowed = ", ".join("--" + name.replace("_", "-") for name in RESUME_OPTIONS[1:-1])
        allowed += " and --set of the runner's machine options"
        raise ConfigurationError(
            f"--resume continues a run as it was configured, so {', '.join(refused)} cannot be given "
            f"with it (only {allowed})"
        )


def _resumed_context(
    run_dir: Path,
    target_return: float | None,
    device: str | None,
    trust: bool,
    assignments: list[str],
):
    """The run in ``run_dir``; ``--target-return`` replaces its target, ``--set`` gives the runner's
    machine options (where it connects), which a run never decides."""
    from maze_core.run_context import RunContext, load_run_config

    changes = _machine_options(run_dir, assignments)
    context = RunContext.from_run_dir(run_dir, overrides=changes, device=device, trust_run_dir=trust)
    recorded_target = load_run_config(run_dir).get("target_return")  # checked by from_run_dir
    return context, recorded_target if target_return is None else target_return


@contextmanager
def _interrupts_end_the_run(current_context) -> Iterator[None]:
    """Ctrl-C or SIGTERM at any moment of ``maze train`` ends it with 130 or 143 and one message:
    how to continue when the run has saved something to resume from, else that it has not.

    ``current_context()`` is the command's RunContext, None while it is being built. SIGTERM
    raises :class:`~maze_core.errors.Terminated`, a KeyboardInterrupt, from the start, so that a
    run being built ends as cleanly as one training (which keeps its checkpoint).
    """
    from maze_core.errors import Terminated, sigterm_as_interrupt
    from maze_core.run_dir import is_resumable

    try:
        with sigterm_as_interrupt(replace=True):
            yield
    except KeyboardInterrupt as interrupt:
        _ignore_interrupts()
        context = current_context()
        if context is not None and is_resumable(context.run_dir):
            command = f"maze train --resume {escape(str(context.run_dir))}"
            kept = (
                "Interrupted: the best model and a resumable checkpoint are kept."
                if (context.run_dir / BEST_MODEL_FILE).exists()
                else "Interrupted before the first epoch finished: a resumable checkpoint is kept, no "
                "best model yet."
            )
            message = f"{kept} Continue with: [bold]{command}[/]"
        else:
            message = "Interrupted before the run saved anything to resume from: start it again."
        console(stderr=True).print(message)
        terminated = isinstance(interrupt, Terminated)
        raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None


def _machine_options(run_dir: Path, assignments: list[str]) -> dict:
    """``--set`` values given with ``--resume``: only the run's runner's machine options."""
    from maze_core import plugins
    from maze_core.errors import ConfigurationError
    from maze_core.overrides import parse_overrides
    from maze_core.run_context import load_run_config

    if not assignments:
        return {}
    runner = (load_run_config(run_dir).get("arguments") or {}).get("runner")
    options = plugins.load("runner", runner).machine_options if isinstance(runner, str) else ()
    allowed = {f"runner.{option}" for option in options}
    refused = [text for text in assignments if text.partition("=")[0].strip() not in allowed]
    if refused:
        choices = ", ".join(sorted(allowed)) or f"none for the {runner} runner"
        raise ConfigurationError(
            f"--resume continues a run as it was configured, so --set {refused[0]} cannot be given "
            f"with it: --set may only give where this machine connects ({choices})"
        )
    return parse_overrides(assignments, {"runner": runner})


def _ignore_interrupts() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _required_env(env: str | None) -> str:
    from maze_core.errors import ConfigurationError

    if env is None:
        raise ConfigurationError(
            "--env is missing: give an env name registered by a plugin (see `maze plugins list`) "
            "or a gymnasium id"
        )
    return env


def _with_default_composers(names: dict[str, str | None]) -> dict[str, str]:
    """``names`` with the algorithm's policy and critic where none was given (to type ``--set``)."""
    from maze_core import plugins
    from maze_core.run_setup import composer_defaults

    defaults = composer_defaults(plugins.load("algorithm", names["algorithm"]))
    policy, critic = names["policy"] or defaults.policy, names["critic"] or defaults.critic
    return {**names, "policy": policy, "critic": critic}


def _typed_overrides(assignments: list[str], names: dict[str, str], length: dict[str, int]) -> dict:
    """``--set`` values converted to the types of the fields they set; refused where they set the
    training length that ``--epochs`` or ``--steps`` gives too."""
    from maze_core.errors import ConfigurationError
    from maze_core.overrides import parse_overrides

    overrides = parse_overrides(assignments, names)
    given = [key for key in ("algorithm.n_epochs", "algorithm.n_env_steps") if key in overrides]
    if length and given:
        raise ConfigurationError(
            f"give the training length once: {' or '.join(LENGTH_OPTIONS[key] for key in length)} "
            f"or --set {given[0]}"
        )
    return overrides


#: the ``train()`` argument of each command-line option that gives the training length
LENGTH_OPTIONS = {"n_epochs": "--epochs", "n_env_steps": "--steps"}


def _training_length(epochs: int | None, steps: int | None) -> dict[str, int]:
    """``--epochs`` or ``--steps`` as ``RunContext.train()``'s argument: epochs or env steps to train
    (with --resume: to add), counted as train(n_epochs=...) counts them."""
    from maze_core.errors import ConfigurationError

    if epochs is not None and steps is not None:
        raise ConfigurationError("give the training length once: --epochs or --steps")
    if epochs is not None:
        return {"n_epochs": epochs}
    return {} if steps is None else {"n_env_steps": steps}


def _env_steps(text: str) -> int:
    """``--steps``: a whole number, with ``_`` separators, a k or M suffix or an exponent (100_000,
    100k, 1.5M, 1e5)."""
    number = text.strip().replace("_", "").lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(number[-1:], 1)
    try:
        value = float(number[:-1] if scale > 1 else number) * scale
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0 and value == int(value)):
        raise typer.BadParameter(
            f"{text!r} is not a number of env steps: give e.g. 100000, 100k, 1.5M or 1e5"
        )
    return int(value)


def _trained_epochs(run_dir: Path) -> int:
    """The epochs recorded in the run's ``stats.jsonl`` (0 before the first one)."""
    lines = read_stats(run_dir)
    return int(lines[-1]["epoch"]) if lines else 0


def _end_of_run(run_dir: Path, epochs_before: int, curve: CurveProcess) -> None:
    """``curve.png`` and the summary of a run that trained an epoch or more, finished or interrupted
    (while the run directory is still locked)."""
    if _trained_epochs(run_dir) > epochs_before:
        _write_curve(run_dir, curve)
        _print_summary(run_dir)


def _print_summary(run_dir: Path) -> None:
    """Where the run is, its best return, and the commands that evaluate it and show its curves."""
    lines = read_stats(run_dir)
    out = console()
    source = "eval" if any("eval" in line for line in lines) else "train"
    returns = [
        (line[source]["episode_return_mean"], line)
        for line in lines
        if "episode_return_mean" in line.get(source, {})
    ]
    out.print()
    if returns:
        best, line = max(returns, key=lambda item: item[0])  # the first best, as model selection keeps it
        kind = "evaluation" if source == "eval" else "training"
        steps = line.get("algorithm", {}).get("env_steps")
        at = f", {int(steps):,} env steps" if steps is not None else ""
        out.print(
            f"Best mean {kind} return [bold]{best:.2f}[/] in epoch {line['epoch']} of "
            f"{lines[-1]['epoch']}{at}."
        )
    directory = escape(shlex.quote(str(run_dir)))
    curve = run_dir / CURVE_FILE
    out.print(f"Run directory:  {escape(str(run_dir))}")
    if curve.exists():
        out.print(f"Learning curve: {escape(str(curve))}")
    out.print(f"Evaluate it:    [bold]maze evaluate {directory}[/]")
    out.print(f"TensorBoard:    [bold]tensorboard --logdir {directory}[/]")


def _write_curve(run_dir: Path, curve: CurveProcess) -> None:
    """``curve.png`` in the run directory; a run without a finished episode has none (said so)."""
    from maze_core.errors import MazeError

    try:
        curve.write_curve(run_dir, run_dir / CURVE_FILE)
    except MazeError as error:
        console().print(f"No learning curve: {escape(str(error))}")

"""``maze train`` and ``maze evaluate``: a :class:`~maze_core.run_context.RunContext` from the shell.

Importing this module adds the commands to :data:`maze_core.cli.app`. ``maze --help`` imports it,
so it must stay light: torch-based modules are imported inside the commands.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from maze_core.cli_app import MazeCommand, app, console, user_errors
from maze_core.run_context import DEFAULT_ALGORITHM, DEFAULT_RUNNER
from maze_core.run_dir import CURVE_FILE, read_stats
from maze_core.run_setup import OVERRIDE_SECTIONS

#: what ``--resume`` may change; everything else is the run's own configuration
RESUME_OPTIONS = ("resume", "epochs", "target_return", "device", "trust_run_dir", "overrides")

EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # 128 + SIGTERM

TRUST_HELP = (
    "Load any class the run's config.json names (only for your own runs: it can name any code). "
    "Without it only plugin names and classes of the expected kind from installed packages are loaded."
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
    algorithm: Annotated[
        str, typer.Option(metavar="NAME", help="Registered algorithm name.")
    ] = DEFAULT_ALGORITHM,
    runner: Annotated[
        str, typer.Option(metavar="NAME", help="Registered runner name: where the envs run.")
    ] = DEFAULT_RUNNER,
    policy: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Registered policy composer name.", show_default="the algorithm's"),
    ] = None,
    critic: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Registered critic composer name.", show_default="the algorithm's"),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            metavar="DEVICE", help="Training device, e.g. cpu, cuda, cuda:1.", show_default="the algorithm's"
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="N",
            help="Epochs in total (0: until early stopping, the target return or Ctrl-C).",
            show_default="the algorithm's n_epochs",
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
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SECTION.FIELD=VALUE",
            help=f"Override a field, e.g. algorithm.lr=0.001 or runner.n_envs=8; repeatable. "
            f"Sections: {', '.join(OVERRIDE_SECTIONS)}.",
        ),
    ] = None,
    target_return: Annotated[
        float | None, typer.Option(metavar="R", help="Stop once the mean evaluation return reaches R.")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            metavar="RUN_DIR",
            help="Continue the interrupted run in RUN_DIR, configured as it was. Only --epochs, "
            "--target-return, --device, --trust-run-dir and --set of where this machine connects "
            "(runner.address) may be given with it.",
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
) -> None:
    """Train an agent; the best model, a resumable checkpoint and the statistics go to a run directory."""
    context = None
    with user_errors(), _interrupts_end_the_run(lambda: context):
        from maze_core.errors import ConfigurationError
        from maze_core.run_context import RunContext

        if resume is not None:
            _refuse_with_resume(ctx)
            context, target_return = _resumed_context(
                resume, epochs, target_return, device, trust_run_dir, overrides or []
            )
        else:
            if trust_run_dir:
                raise ConfigurationError("--trust-run-dir is for loading a run: give it with --resume")
            names = {"algorithm": algorithm, "policy": policy, "critic": critic, "runner": runner}
            context = RunContext(
                env=_required_env(env),
                **names,
                overrides=_typed_overrides(overrides or [], _with_default_composers(names), epochs),
                run_dir=run_dir,
                seed=seed,
                device=device,
                overwrite=overwrite,
            )
        epochs_before = _trained_epochs(context.run_dir) if resume is not None else 0
        try:
            context.train(target_return=target_return)
            if _trained_epochs(context.run_dir) > epochs_before:
                _write_curve(context.run_dir)  # while the run directory is still locked
        except KeyboardInterrupt:
            _ignore_interrupts()  # a second Ctrl-C while the workers shut down changes nothing
            raise
        finally:
            context.close()
    _print_summary(context.run_dir, trained=_trained_epochs(context.run_dir) > epochs_before)


@app.command(cls=MazeCommand, no_args_is_help=True)
def evaluate(
    run_dir: Annotated[
        Path,
        typer.Argument(metavar="RUN_DIR", help="The run directory (holds config.json and state_dict.pt)."),
    ],
    episodes: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Episodes to run.", show_default="the run's eval_episodes"),
    ] = None,
    stochastic: Annotated[
        bool, typer.Option("--stochastic", help="Sample actions instead of taking the most likely ones.")
    ] = False,
    device: Annotated[
        str | None, typer.Option(metavar="DEVICE", help="Device of the policy.", show_default="the run's")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    trust_run_dir: Annotated[bool, typer.Option("--trust-run-dir", help=TRUST_HELP)] = False,
) -> None:
    """Evaluate the best model of a finished or interrupted run on fresh episodes."""
    with user_errors():
        from maze_core.run_context import RunContext

        context = RunContext.from_run_dir(run_dir, device=device, silent=True, trust_run_dir=trust_run_dir)
        try:
            stats = context.evaluate(n_episodes=episodes, deterministic=not stochastic)
        finally:
            context.close()
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    mode = "stochastic" if stochastic else "deterministic"
    table = Table(title=f"Evaluation of {run_dir} ({mode})", title_justify="left")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for name, value in stats.items():
        table.add_row(name, f"{value:g}")
    console().print(table)


# --- helpers ----------------------------------------------------------------------------------------


def _refuse_with_resume(ctx: typer.Context) -> None:
    from maze_core.errors import ConfigurationError

    def given(name: str) -> bool:
        source = ctx.get_parameter_source(name)  # click's ParameterSource (typer bundles its own click)
        return source is not None and source.name != "DEFAULT"

    refused = [p.opts[0] for p in ctx.command.params if p.name not in RESUME_OPTIONS and given(p.name)]
    if refused:
        allowed = ", ".join("--" + name.replace("_", "-") for name in RESUME_OPTIONS[1:-1])
        allowed += " and --set of the runner's machine options"
        raise ConfigurationError(
            f"--resume continues a run as it was configured, so {', '.join(refused)} cannot be given "
            f"with it (only {allowed})"
        )


def _resumed_context(
    run_dir: Path,
    epochs: int | None,
    target_return: float | None,
    device: str | None,
    trust: bool,
    assignments: list[str],
):
    """The run in ``run_dir``; ``--epochs`` sets its total, ``--target-return`` replaces its target,
    ``--set`` gives the runner's machine options (where it connects), which a run never decides."""
    from maze_core.run_context import RunContext, load_run_config

    changes = _machine_options(run_dir, assignments)
    if epochs is not None:
        changes["algorithm.n_epochs"] = epochs
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
            message = f"Interrupted. Continue with: [bold]{command}[/]"
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


def _typed_overrides(assignments: list[str], names: dict[str, str], epochs: int | None) -> dict:
    """``--set`` values converted to the types of the fields they set; ``--epochs`` sets ``n_epochs``."""
    from maze_core.errors import ConfigurationError
    from maze_core.overrides import parse_overrides

    overrides = parse_overrides(assignments, names)
    if epochs is not None:
        if "algorithm.n_epochs" in overrides:
            raise ConfigurationError("give the number of epochs once: --epochs or --set algorithm.n_epochs")
        overrides["algorithm.n_epochs"] = epochs
    return overrides


def _trained_epochs(run_dir: Path) -> int:
    """The epochs recorded in the run's ``stats.jsonl`` (0 before the first one)."""
    lines = read_stats(run_dir)
    return int(lines[-1]["epoch"]) if lines else 0


def _print_summary(run_dir: Path, trained: bool) -> None:
    """Where the run is, its best return, and the commands that evaluate it and show its curves."""
    lines = read_stats(run_dir)
    out = console()
    if not trained:
        out.print(
            f"Nothing to train: the run in {escape(str(run_dir))} has trained its "
            f"{_trained_epochs(run_dir)} epochs; give --epochs N to train until epoch N."
        )
        return
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


def _write_curve(run_dir: Path) -> None:
    """``curve.png`` in the run directory; a run without a finished episode has none (said so)."""
    from maze_core.errors import MazeError
    from maze_core.plot import write_curve

    try:
        write_curve([run_dir], run_dir / CURVE_FILE)
    except MazeError as error:
        console().print(f"No learning curve: {escape(str(error))}")

"""``maze evaluate``: the best model of a run on fresh episodes, from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from maze_core.cli_app import MazeCommand, app, console, user_errors
from maze_core.cli_options import TRUST_HELP


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
    video: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Record each episode to DIR/eval-episode-<i>.mp4 (envs that render rgb_array; "
            'needs pip install "maze-core\\[video]").',
            show_default=False,
        ),
    ] = None,
) -> None:
    """Evaluate the best model of a finished or interrupted run on fresh episodes."""
    with user_errors():
        from maze_core.run_context import RunContext

        context = RunContext.from_run_dir(run_dir, device=device, silent=True, trust_run_dir=trust_run_dir)
        try:
            stats = context.evaluate(n_episodes=episodes, deterministic=not stochastic, video_dir=video)
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
    if video is not None:
        last = int(stats["episode_count"]) - 1
        names = "eval-episode-0.mp4" + (f" to eval-episode-{last}.mp4" if last else "")
        console().print(f"Videos: {names} in {escape(str(video))}")

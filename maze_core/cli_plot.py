"""``maze plot``: learning curves of runs, drawn with matplotlib (imported by the command only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from maze_core.cli_app import MazeCommand, app, console, user_errors


@app.command(cls=MazeCommand, no_args_is_help=True)
def plot(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN_DIR",
            help="Run directories; runs set up alike (apart from the seed and the number of epochs) "
            "are drawn as one curve: their mean, with a band from the lowest to the highest run "
            "(min–max). Runs of different envs get one panel per env.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The figure file; .png, .svg or .pdf. Needed with several runs.",
            show_default="RUN_DIR/curve.png for one run",
        ),
    ] = None,
    x: Annotated[
        str,
        typer.Option("--x", metavar="AXIS", help="The x axis: env steps ('steps') or wall time ('time')."),
    ] = "steps",
    title: Annotated[
        str | None, typer.Option(metavar="TEXT", help="The figure's title.", show_default="the envs")
    ] = None,
) -> None:
    """Draw the mean return of runs against env steps or wall time."""
    with user_errors():
        from maze_core.errors import ConfigurationError
        from maze_core.plot import write_curve
        from maze_core.run_dir import CURVE_FILE

        if output is None:
            if len(run_dirs) > 1:
                raise ConfigurationError("give the figure's file with --output when plotting several runs")
            output = run_dirs[0] / CURVE_FILE
        written = write_curve(run_dirs, output, x=x, title=title)
    console().print(f"Wrote {written.path}")
    for note in written.notes:
        console().print(note)

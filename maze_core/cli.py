"""The ``maze`` command line (typer).

Every command is a function on :data:`~maze_core.cli_app.app` (or on a sub-app such as
:data:`plugins_app`). To add a command, write an ``@app.command()`` function in a module that does
``from maze_core.cli_app import app``, and import that module at the end of this one (as
:mod:`maze_core.cli_train` and :mod:`maze_core.cli_plot` are). Import torch-based
modules inside the command function, never at module level: ``maze --help`` and
``maze plugins list`` must stay fast and must not import torch. A plugin adds a command through the
``register_commands`` hook (``maze tune`` comes from the plugin ``maze-tune``).
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

import maze_core
from maze_core import plugins as registry
from maze_core.cli_app import MazeCommand, MazeGroup, app
from maze_core.errors import commands_take_interrupts

plugins_app = typer.Typer(cls=MazeGroup, help="Inspect the installed Maze plugins.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"maze {maze_core.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Maze: reinforcement learning for PyTorch, built from a small kernel and plugins."""
    commands_take_interrupts()


@plugins_app.command("list", cls=MazeCommand)
def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the installed plugins: what each provides and whether it works."""
    infos = registry.plugins()
    if as_json:
        typer.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Maze plugins", title_justify="left")
    table.add_column("package", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("provides")
    table.add_column("status")
    for info in infos:
        provides = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in info.provides.items())
        if info.status == "ok":
            status = Text("ok", style="green")
        else:
            status = Text.assemble(("broken", "bold red"), f": {info.error}")
        for clash in info.clashes:
            status.append_text(Text.assemble("\n", ("clash", "bold yellow"), f": {clash}"))
        table.add_row(info.distribution, info.version or "-", provides or "-", status)
    load_filter = os.environ.get(registry.LOAD_PLUGINS_VARIABLE)
    if load_filter is not None:
        table.caption = f"Only loading the plugins in {registry.LOAD_PLUGINS_VARIABLE}={load_filter!r}."
    Console().print(table)


import maze_core.cli_evaluate  # noqa: E402, F401  (maze evaluate)
import maze_core.cli_export  # noqa: E402, F401  (maze export)
import maze_core.cli_plot  # noqa: E402, F401  (maze plot)
import maze_core.cli_train  # noqa: E402, F401  (maze train)


def _add_plugin_commands() -> None:
    """The commands plugins register (``register_commands``), after the built-in ones, whose names
    they cannot take; a broken plugin's command is left out (``maze plugins list`` says why)."""
    from maze_core.errors import MazeError

    taken = {info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands}
    taken |= {info.name for info in app.registered_groups}
    for name in registry.names("command"):
        if name in taken:
            continue
        try:
            function = registry.load("command", name)
        except MazeError:
            continue
        app.command(name, cls=MazeCommand, no_args_is_help=True)(function)


_add_plugin_commands()

if __name__ == "__main__":
    app(prog_name="maze")

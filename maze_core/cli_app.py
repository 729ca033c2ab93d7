"""The ``maze`` command's typer app, the classes of its commands and what every command shares:
one-line errors and a console.

Command modules (:mod:`maze_core.cli_train`, :mod:`maze_core.cli_plot`, and the plugin commands in
:mod:`maze_core.cli`) import :data:`app` from here and add their commands to it; :mod:`maze_core.cli`
imports them all. No module here imports torch.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

EXIT_USER_ERROR = 1


class _PlainHelp:
    """typer's help minus three distractions: a type shown after flags (``--overwrite <bool>``,
    ``--help <bool>``) and after arguments already named (``RUN_DIR <list[Path]>``), and braces
    around required arguments in the usage line (``{RUN_DIR}``)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # typer shows the metavar instead of the type: nothing
            elif param.param_type_name == "argument":
                param.display_type_rich = _no_type
        return params

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [re.sub(r"\{([^{}]*)\}", r"\1", piece) for piece in super().collect_usage_pieces(ctx)]


def _no_type(ctx) -> None:
    return None


class MazeCommand(_PlainHelp, TyperCommand):
    """The class of every ``maze`` command (``@app.command(cls=MazeCommand)``)."""


class MazeGroup(_PlainHelp, TyperGroup):
    """The class of ``maze`` and its command groups."""


app = typer.Typer(
    cls=MazeGroup,
    name="maze",
    help="Maze: reinforcement learning for PyTorch, built from a small kernel and plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@contextmanager
def user_errors() -> Iterator[None]:
    """A Maze error is the user's to fix: one line, no traceback, a non-zero exit status."""
    from maze_core.errors import MazeError, MazeWarning

    def show_warning(message, category, *args, **kwargs):
        if issubclass(category, MazeWarning):
            console(stderr=True).print(Text.assemble(("Warning: ", "bold yellow"), str(message)))
        else:
            default_show_warning(message, category, *args, **kwargs)

    default_show_warning = warnings.showwarning
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            yield
    except MazeError as error:
        console(stderr=True).print(Text.assemble(("Error: ", "bold red"), str(error)))
        raise typer.Exit(EXIT_USER_ERROR) from None


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=True, highlight=False)

"""The options of the commands that set up runs (``maze train``, ``maze tune``) and read them
(``maze evaluate``, ``maze export``), defined once so that they read alike everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from maze_core.run_setup import OVERRIDE_SECTIONS

EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # 128 + SIGTERM

TRUST_HELP = (
    "Load any class the run's config.json names (only for your own runs: it can name any code). "
    "Without it only plugin names and classes of the expected kind from installed packages are loaded."
)

# the options that set up a run
AlgorithmOption = Annotated[str, typer.Option(metavar="NAME", help="Registered algorithm name.")]
RunnerOption = Annotated[
    str, typer.Option(metavar="NAME", help="Registered runner name: where the envs run.")
]
PolicyOption = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="Registered policy composer name.", show_default="the algorithm's"),
]
CriticOption = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="Registered critic composer name.", show_default="the algorithm's"),
]
OverridesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="SECTION.FIELD=VALUE",
        help=f"Override a field, e.g. algorithm.lr=0.001 or runner.n_envs=8; repeatable. "
        f"Sections: {', '.join(OVERRIDE_SECTIONS)}.",
    ),
]
PresetOption = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="Tuned settings the algorithm ships for this env, e.g. zoo (rl-baselines3-zoo's); "
        "--set goes over them.",
        show_default=False,
    ),
]

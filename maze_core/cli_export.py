"""``maze export``: a run's best policy as one ONNX or TorchScript file (see docs/export.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from maze_core.cli_app import MazeCommand, app, console, user_errors
from maze_core.cli_options import TRUST_HELP

FORMAT_NAMES = {"onnx": "ONNX", "torchscript": "TorchScript"}


@app.command(cls=MazeCommand, no_args_is_help=True)
def export(
    run_dir: Annotated[
        Path,
        typer.Argument(metavar="RUN_DIR", help="The run directory (holds config.json and state_dict.pt)."),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The file to write.",
            show_default="RUN_DIR/policy.onnx, or .pt",
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="onnx (for onnxruntime: observation normalization, network, action masks and the "
            "deterministic action in one graph) or torchscript (torch.jit.load).",
        ),
    ] = "onnx",
    trust_run_dir: Annotated[bool, typer.Option("--trust-run-dir", help=TRUST_HELP)] = False,
) -> None:
    """Export the best model of a run to one file that acts as `maze evaluate` does (docs/export.md)."""
    with user_errors():
        from maze_core.export import check_format, read_metadata
        from maze_core.run_context import RunContext

        check_format(format)
        context = RunContext.from_run_dir(run_dir, device="cpu", silent=True, trust_run_dir=trust_run_dir)
        try:
            path = context.export(output, format=format)
        finally:
            context.close()
        metadata = read_metadata(path)
    out = console()
    size = path.stat().st_size
    out.print(f"Wrote {escape(str(path))} ({FORMAT_NAMES[format]}, {size / 1024:,.1f} KiB)")
    for title, entries in (("Inputs: ", metadata["inputs"]), ("Outputs:", metadata["outputs"])):
        described = ", ".join(
            f"{entry['name']} {entry['dtype']} ({', '.join(['batch', *map(str, entry['shape'])])})"
            for entry in entries
        )
        out.print(f"{title} {escape(described)}")
    if metadata["normalized_observations"]:
        normalized = ", ".join(metadata["normalized_observations"])
        out.print(f"Normalizes: {escape(normalized)} (with the best model's statistics)")

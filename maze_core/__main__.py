"""``python -m maze_core`` and the ``maze`` command.

Ctrl-C and SIGTERM are handled from the command's first line on, before the heavy imports: until a
command takes them over (``maze train`` ends a run as on Ctrl-C, keeping its checkpoint), the
command exits with status 130 or 143 and says so, instead of a traceback or a silent death by the
signal. Until a command starts, a signal ends the process at once
(:func:`maze_core.errors.exit_at_once`): an exception raised inside an import can be lost.
"""

from __future__ import annotations

import gc
import signal
import sys


def main() -> None:
    from maze_core.errors import exit_at_once, interrupts_exit_at_once_until_a_command_starts

    signal.signal(signal.SIGTERM, exit_at_once)
    interrupts_exit_at_once_until_a_command_starts()
    try:
        from maze_core.cli import app

        app(prog_name="maze")
    except SystemExit as leaving:
        if _silent_interrupt(leaving):
            sys.stderr.write("Interrupted before anything was saved.\n")
        raise
    finally:
        # the process ends next: its last garbage collection would walk every object torch created
        # (a quarter of a second) only to find nothing that needs finalizing
        gc.freeze()


def _silent_interrupt(leaving: SystemExit) -> bool:
    """Whether typer turned a Ctrl-C that no command handled (one while it parses the command
    line, say) into exit status 130 without a word: its ``Exit`` is caused by the interrupt."""
    cause = getattr(leaving.__context__, "__cause__", None)
    return leaving.code == 128 + signal.SIGINT and isinstance(cause, KeyboardInterrupt)


if __name__ == "__main__":
    main()

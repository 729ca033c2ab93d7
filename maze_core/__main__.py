"""``python -m maze_core`` and the ``maze`` command.

Ctrl-C and SIGTERM are handled from the command's first line on, before the heavy imports: until a
command takes them over (``maze train`` ends a run as on Ctrl-C, keeping its checkpoint), the
command exits at once with status 130 or 143 and says so, instead of a traceback or a silent
death by the signal.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        from maze_core.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted before anything was saved.\n")
        raise SystemExit(128 + signal.SIGINT) from None
    app(prog_name="maze")


def _terminated(signum, frame) -> None:
    """Exit at once: an exception raised here could land in an import that swallows it (and
    nothing of Maze's needs cleaning up yet; its own file writes hold the signal back)."""
    sys.stderr.write("Terminated before anything was saved.\n")
    sys.stderr.flush()
    os._exit(128 + signal.SIGTERM)


if __name__ == "__main__":
    main()

"""``maze train``'s ``curve.png``, drawn by a child process that imports matplotlib while the run
trains.

Importing matplotlib takes 0.6-0.7 s, as long as a short run's whole training. The child that
``maze train`` starts first does it on another core, in parallel with torch's import and the
training, so that the end of the run waits only for the drawing itself. The child is in a session
of its own (a Ctrl-C in the terminal does not reach it: the interrupted run still gets its
curve); it is killed when the run has nothing to plot, and exits when its input closes if
``maze train`` dies. Whatever goes wrong with
the child, the curve is drawn in this process instead, as it was before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from maze_core.errors import ConfigurationError

#: how long the end of a run waits for the child's figure before drawing it itself
TIMEOUT_SECONDS = 120


class CurveProcess:
    """A child process that draws one figure, as :func:`maze_core.plot.write_curve` does."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        try:
            self._process: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "maze_core.curve_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": python_path},
            )
        except OSError:
            self._process = None

    def write_curve(self, run_dir: Path, output: Path) -> None:
        """Draw ``run_dir``'s learning curve into ``output``; raises the :class:`MazeError` that
        drawing it here would (e.g. a run without a finished episode)."""
        from maze_core.plot import load_curves, write_curve

        load_curves([run_dir])  # a run with nothing to plot yet is said so without waiting
        reply = self._request({"run_dirs": [str(run_dir)], "output": str(output)})
        if reply is None:  # no child, or it failed: draw here
            write_curve([run_dir], output)
        elif "error" in reply:
            raise ConfigurationError(reply["error"])

    def _request(self, request: dict) -> dict | None:
        process, self._process = self._process, None
        if process is None:
            return None
        try:
            out, _ = process.communicate(json.dumps(request) + "\n", timeout=TIMEOUT_SECONDS)
            return json.loads(out)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            _end(process)
            return None

    def close(self) -> None:
        """End the child if it has not drawn (a run that failed or has nothing to plot)."""
        process, self._process = self._process, None
        if process is not None:
            _end(process)


def _end(process: subprocess.Popen) -> None:
    """Kill the child: it writes nothing unless asked to draw, and would otherwise finish
    importing matplotlib before it noticed its input closing."""
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        stream.close()


def main() -> None:
    """The child: import matplotlib and draw a throwaway figure (fonts, the Agg canvas), then wait
    for one request on stdin and answer on stdout."""
    import io

    from matplotlib.figure import Figure

    from maze_core.errors import MazeError
    from maze_core.plot import write_curve

    warm_up = Figure(figsize=(1, 1))
    warm_up.add_subplot().plot([0, 1], [0, 1], label="x")
    warm_up.savefig(io.BytesIO(), format="png")
    line = sys.stdin.readline()
    if not line:  # the run ended without a curve to draw
        return
    request = json.loads(line)
    try:
        write_curve([Path(run_dir) for run_dir in request["run_dirs"]], Path(request["output"]))
    except MazeError as error:
        print(json.dumps({"error": str(error)}))
    else:
        print(json.dumps({"written": request["output"]}))


if __name__ == "__main__":
    main()

"""``python -m maze_core``: the ``maze`` command."""

from maze_core.cli import app

if __name__ == "__main__":
    app(prog_name="maze")

"""A small Maze plugin used by the registry tests (and the smallest example of a plugin)."""

__version__ = "0.3.0"

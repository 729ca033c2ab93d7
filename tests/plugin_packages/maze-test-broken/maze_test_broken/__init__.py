"""A Maze test plugin that cannot be imported."""

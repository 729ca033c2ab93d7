"""A Maze test plugin with a hook that raises."""

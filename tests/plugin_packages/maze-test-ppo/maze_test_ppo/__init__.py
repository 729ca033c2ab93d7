"""A Maze test plugin whose algorithm name clashes with maze-ppo's."""

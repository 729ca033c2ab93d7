"""A Maze test plugin that claims a name another test plugin claims too."""

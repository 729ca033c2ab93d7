"""A Maze test plugin whose algorithm averages over every row of a rollout."""

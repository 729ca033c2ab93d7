"""Claims env "test-corridor", which maze-test-plugin provides too."""

from maze_core import hookimpl


@hookimpl
def register_envs(register):
    register("test-corridor", "maze_test_clash.envs:make_corridor")
    register("test-clash-only", "maze_test_clash.envs:make_corridor")

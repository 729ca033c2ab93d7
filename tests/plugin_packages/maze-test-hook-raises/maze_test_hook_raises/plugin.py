"""One hook works, the other raises: the plugin is broken as a whole."""

from maze_core import hookimpl


@hookimpl
def register_envs(register):
    register("test-hook-env", "maze_test_hook_raises.envs:make")


@hookimpl
def register_devices(register):
    raise RuntimeError("no test accelerator found")

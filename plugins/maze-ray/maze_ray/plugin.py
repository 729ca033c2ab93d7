"""Hook implementations of the ``maze-ray`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports neither torch nor ray.
"""

from maze_core import hookimpl


@hookimpl
def register_runners(register):
    register("ray", "maze_ray.runner:RayRunner")

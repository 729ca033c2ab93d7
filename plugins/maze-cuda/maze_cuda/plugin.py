"""Hook implementations of the ``maze-cuda`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy (in particular not torch,
so listing plugins works on machines without a GPU or CUDA build).
"""

from maze_core import hookimpl


@hookimpl
def register_devices(register):
    register("cuda", "maze_cuda.device:CUDADevice")

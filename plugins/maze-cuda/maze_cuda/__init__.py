"""Maze plugin: the ``cuda`` device."""

from maze_core.lazy import lazy_exports

__all__ = ["CUDADevice"]
__getattr__, __dir__ = lazy_exports(__name__, {"CUDADevice": "maze_cuda.device"})

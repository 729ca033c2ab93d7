"""Maze plugin: the ``dev`` (in-process) and ``local`` (subprocess) runners."""

from maze_core.lazy import lazy_exports

__all__ = ["DevRunner", "LocalRunner"]
__getattr__, __dir__ = lazy_exports(
    __name__, {"DevRunner": "maze_runners.runners", "LocalRunner": "maze_runners.runners"}
)

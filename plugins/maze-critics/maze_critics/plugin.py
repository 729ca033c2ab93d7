"""Hook implementations of the ``maze-critics`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_critics(register):
    register("shared_state", "maze_critics.composers:SharedStateCriticComposer")
    register("step_state", "maze_critics.composers:StepStateCriticComposer")
    register("shared_state_action", "maze_critics.composers:SharedStateActionCriticComposer")
    register("step_state_action", "maze_critics.composers:StepStateActionCriticComposer")

"""Hook implementations of the ``maze-policies`` plugin (entry point group ``maze.plugins``).

Targets are import strings, so loading this module imports nothing heavy.
"""

from maze_core import hookimpl


@hookimpl
def register_policies(register):
    register("probabilistic", "maze_policies.probabilistic:ProbabilisticPolicyComposer")
    register("q_greedy", "maze_policies.q_greedy:QGreedyPolicyComposer")

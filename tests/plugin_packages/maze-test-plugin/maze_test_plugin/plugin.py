"""Hook implementations: names only, so discovering the plugin imports nothing else."""

from maze_core import hookimpl


@hookimpl
def register_envs(register):
    register("test-corridor", "maze_test_plugin.envs:make_corridor")
    register("test-masked-corridor", "maze_test_plugin.envs:make_masked_corridor")


@hookimpl
def register_distributions(register):
    register("test-uniform", "maze_test_plugin.distributions:UniformDistribution")

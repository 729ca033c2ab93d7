"""The kernel's own registrations: standard distributions, the ``cpu`` device and the
partially observed ``CartPoleNoVel-v1``.

They go through the same hooks as any plugin (the registry registers this module as the built-in
plugin of distribution ``maze-core``), so a name here behaves exactly like a plugin's name: it is
listed by ``maze plugins list``, clashes are reported, and nothing is imported before first use.
"""

from __future__ import annotations

from maze_core.hookspecs import hookimpl


@hookimpl
def register_distributions(register):
    register("categorical", "maze_core.distributions:CategoricalProbabilityDistribution")
    register("gaussian", "maze_core.distributions:DiagonalGaussianProbabilityDistribution")
    register("squashed_gaussian", "maze_core.distributions:SquashedGaussianProbabilityDistribution")
    register("bernoulli", "maze_core.distributions:BernoulliProbabilityDistribution")
    register("multi_categorical", "maze_core.distributions:MultiCategoricalProbabilityDistribution")


@hookimpl
def register_devices(register):
    register("cpu", "maze_core.training.devices:CPUDevice")


@hookimpl
def register_envs(register):
    register("CartPoleNoVel-v1", "maze_core.env.partially_observed:cartpole_no_velocity")

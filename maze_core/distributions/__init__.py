"""Action distributions: one per action head, combined by ``DictProbabilityDistribution``, chosen
by ``DistributionMapper``. The kernel registers the standard ones under the names ``categorical``,
``gaussian``, ``squashed_gaussian``, ``bernoulli`` and ``multi_categorical``."""

from maze_core.distributions.base import ProbabilityDistribution
from maze_core.distributions.bernoulli import BernoulliProbabilityDistribution
from maze_core.distributions.categorical import (
    CategoricalProbabilityDistribution,
    MultiCategoricalProbabilityDistribution,
)
from maze_core.distributions.dict_distribution import DictProbabilityDistribution
from maze_core.distributions.gaussian import (
    DiagonalGaussianProbabilityDistribution,
    SquashedGaussianProbabilityDistribution,
)
from maze_core.distributions.mapper import DistributionMapper, resolve_distribution

__all__ = [
    "BernoulliProbabilityDistribution",
    "CategoricalProbabilityDistribution",
    "DiagonalGaussianProbabilityDistribution",
    "DictProbabilityDistribution",
    "DistributionMapper",
    "MultiCategoricalProbabilityDistribution",
    "ProbabilityDistribution",
    "SquashedGaussianProbabilityDistribution",
    "resolve_distribution",
]

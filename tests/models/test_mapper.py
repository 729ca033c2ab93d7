"""DistributionMapper: defaults by space type, config precedence, ways to name a distribution, errors."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from maze_core import plugins
from maze_core.distributions import (
    BernoulliProbabilityDistribution,
    CategoricalProbabilityDistribution,
    DiagonalGaussianProbabilityDistribution,
    DictProbabilityDistribution,
    DistributionMapper,
    MultiCategoricalProbabilityDistribution,
    SquashedGaussianProbabilityDistribution,
)
from maze_core.errors import ConfigurationError

ACTION_SPACE = spaces.Dict(
    {
        "choice": spaces.Discrete(3),
        "force": spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
        "torque": spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32),
        "switches": spaces.MultiBinary(4),
        "grid": spaces.MultiDiscrete([2, 3]),
    }
)


def classes(mapper):
    return {head: mapper.distribution_class(head) for head in mapper.action_heads}


@pytest.mark.parametrize("config", [(), [], {}, None])
def test_defaults_by_space_type(config):
    mapper = DistributionMapper(action_space=ACTION_SPACE, distribution_mapper_config=config)
    assert classes(mapper) == {
        "choice": CategoricalProbabilityDistribution,
        "force": DiagonalGaussianProbabilityDistribution,
        "torque": DiagonalGaussianProbabilityDistribution,
        "switches": BernoulliProbabilityDistribution,
        "grid": MultiCategoricalProbabilityDistribution,
    }
    assert {h: mapper.required_logits_shape(h) for h in mapper.action_heads} == {
        "choice": (3,),
        "force": (4,),
        "torque": (2,),
        "switches": (4,),
        "grid": (5,),
    }


def test_entries_apply_in_order_and_later_entries_win():
    mapper = DistributionMapper(
        ACTION_SPACE,
        [
            {"action_space": spaces.Box, "distribution": SquashedGaussianProbabilityDistribution},
            {"action_head": "force", "distribution": DiagonalGaussianProbabilityDistribution},
        ],
    )
    assert mapper.distribution_class("force") is DiagonalGaussianProbabilityDistribution
    assert mapper.distribution_class("torque") is SquashedGaussianProbabilityDistribution

    reversed_order = DistributionMapper(
        ACTION_SPACE,
        [
            {"action_head": "force", "distribution": DiagonalGaussianProbabilityDistribution},
            {"action_space": spaces.Box, "distribution": SquashedGaussianProbabilityDistribution},
        ],
    )
    assert reversed_order.distribution_class("force") is SquashedGaussianProbabilityDistribution


def test_the_tutorials_config_with_original_maze_paths():
    action_space = spaces.Dict(action=spaces.Discrete(2))
    mapper = DistributionMapper(
        action_space=action_space,
        distribution_mapper_config=[
            {
                "action_space": gym.spaces.Discrete,
                "distribution": "maze.distributions.categorical.CategoricalProbabilityDistribution",
            }
        ],
    )
    assert mapper.distribution_class("action") is CategoricalProbabilityDistribution
    legacy_space = DistributionMapper(
        ACTION_SPACE,
        [
            {
                "action_space": "gym.spaces.Box",
                "distribution": "maze.distributions.squashed_gaussian"
                ".SquashedGaussianProbabilityDistribution",
            }
        ],
    )
    assert legacy_space.distribution_class("torque") is SquashedGaussianProbabilityDistribution


def test_dotted_paths_and_registered_names():
    mapper = DistributionMapper(
        ACTION_SPACE,
        [
            {"action_space": "gymnasium.spaces.Box", "distribution": "squashed_gaussian"},
            {
                "action_head": "force",
                "distribution": "maze_core.distributions:DiagonalGaussianProbabilityDistribution",
            },
        ],
    )
    assert mapper.distribution_class("torque") is plugins.load("distribution", "squashed_gaussian")
    assert mapper.distribution_class("force") is DiagonalGaussianProbabilityDistribution
    for name in ("categorical", "gaussian", "squashed_gaussian", "bernoulli", "multi_categorical"):
        assert name in plugins.names("distribution")


def test_args_reach_the_distribution():
    class Scaled(CategoricalProbabilityDistribution):
        def __init__(self, logits, action_space, temperature=1.0, scale=1.0):
            super().__init__(logits * scale, action_space, temperature)

    mapper = DistributionMapper(
        ACTION_SPACE, [{"action_head": "choice", "distribution": Scaled, "args": {"scale": 0}}]
    )
    dist = mapper.action_head_distribution("choice", torch.randn(3))
    assert torch.equal(dist.logits, torch.zeros(3))
    with pytest.raises(ConfigurationError, match="does not accept the args"):
        DistributionMapper(
            ACTION_SPACE, [{"action_head": "choice", "distribution": Scaled, "args": {"scael": 0}}]
        )


def test_logits_dict_to_distribution():
    mapper = DistributionMapper(ACTION_SPACE)
    logits = {head: torch.randn(6, *mapper.required_logits_shape(head)) for head in mapper.action_heads}
    dist = mapper.logits_dict_to_distribution(logits, temperature=0.5)
    assert isinstance(dist, DictProbabilityDistribution) and set(dist) == set(ACTION_SPACE.spaces)
    assert dist.log_prob(dist.sample()).shape == (6,) and dist.entropy().shape == (6,)
    torch.testing.assert_close(dist["choice"].logits, logits["choice"] / 0.5)
    with pytest.raises(KeyError, match="unknown action head 'nope'"):
        mapper.logits_dict_to_distribution({"nope": torch.zeros(3)})


def test_a_bare_space_is_the_action_head():
    mapper = DistributionMapper(spaces.Discrete(4))
    assert mapper.action_heads == ["action"] and mapper.required_logits_shape("action") == (4,)


def test_repr_names_heads_distributions_and_overridden_defaults():
    text = repr(
        DistributionMapper(ACTION_SPACE, [{"action_head": "torque", "distribution": "squashed_gaussian"}])
    )
    assert "torque" in text and "SquashedGaussianProbabilityDistribution" in text
    assert "(default: DiagonalGaussianProbabilityDistribution)" in text
    assert "logits (5,)" in text


def test_squashed_gaussian_on_an_unbounded_box_fails_at_construction():
    action_space = spaces.Dict(steer=spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32))
    with pytest.raises(ConfigurationError) as error:
        DistributionMapper(action_space, [{"action_space": spaces.Box, "distribution": "squashed_gaussian"}])
    message = str(error.value)
    assert "'steer'" in message and "finite" in message and "gaussian" in message.lower()


def test_a_nested_space_fails_at_construction():
    action_space = spaces.Dict(arm=spaces.Dict(a=spaces.Discrete(2)), other=spaces.Discrete(2))
    with pytest.raises(ConfigurationError, match="action head 'arm' has a nested Dict space"):
        DistributionMapper(action_space)


def test_a_distribution_for_the_wrong_space_type_fails_at_construction():
    with pytest.raises(ConfigurationError, match="'choice'.*handles Box action spaces only"):
        DistributionMapper(ACTION_SPACE, [{"action_head": "choice", "distribution": "gaussian"}])


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"action_head": "nope", "distribution": "categorical"}, "action heads are"),
        ({"distribution": "categorical"}, "exactly one of 'action_space'"),
        ({"action_head": "choice"}, "names no 'distribution'"),
        ({"action_head": "choice", "distribution": "categorical", "arg": {}}, "unknown keys"),
        ({"action_head": "choice", "distribution": "torch.nn.Linear"}, "not a ProbabilityDistribution"),
        ({"action_space": "gymnasium.spaces.Nope", "distribution": "categorical"}, "no attribute 'Nope'"),
    ],
)
def test_bad_config_entries(entry, message):
    with pytest.raises(ConfigurationError, match=message):
        DistributionMapper(ACTION_SPACE, [entry])


def test_an_unknown_registered_name_is_reported():
    with pytest.raises(LookupError, match="categorcal"):
        DistributionMapper(ACTION_SPACE, [{"action_head": "choice", "distribution": "categorcal"}])

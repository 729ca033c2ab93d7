"""``--set`` values are converted to the declared types of the fields they set."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from maze_core.errors import ConfigurationError
from maze_core.overrides import convert, parse_overrides, settable_fields

NAMES = {"algorithm": "a2c", "policy": "probabilistic", "critic": "shared_state", "runner": "local"}


def test_values_get_the_types_of_their_fields():
    overrides = parse_overrides(
        [
            "algorithm.lr=1e-3",
            "algorithm.epoch_length=7",
            "algorithm.device=cpu",
            "runner.n_envs=3",
            "runner.start_method=none",
            "critic.stack_observations=yes",
            'policy.networks={"_target_": "my.nets:Net", "hidden": [64, 64]}',
        ],
        NAMES,
    )
    assert overrides == {
        "algorithm.lr": 0.001,
        "algorithm.epoch_length": 7,
        "algorithm.device": "cpu",
        "runner.n_envs": 3,
        "runner.start_method": None,
        "critic.stack_observations": True,
        "policy.networks": {"_target_": "my.nets:Net", "hidden": [64, 64]},
    }
    assert type(overrides["algorithm.epoch_length"]) is int


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("algorithm.lr=abc", "'algorithm.lr=abc': A2CAlgorithmConfig.lr must be a number, got 'abc'"),
        ("algorithm.epoch_length=2.5", "A2CAlgorithmConfig.epoch_length must be an integer, got '2.5'"),
        ("critic.stack_observations=maybe", "stack_observations must be true or false"),
        ("algorithm.gama=0.9", "has no field 'gama'. Did you mean 'gamma'?"),
        ("policy.observation_spaces_dict={}", "has no field 'observation_spaces_dict'"),
        ("policy.distribution_mapper=x", "(not possible on the command line; set it in Python)"),
        ("algorithm.lr", "write it as <section>.<field>=<value>, with section one of algorithm, policy"),
        ("optimizer.lr=1", "write it as <section>.<field>=<value>"),
    ],
)
def test_bad_assignments_name_the_field_and_what_it_takes(assignment, message):
    with pytest.raises(ConfigurationError) as error:
        parse_overrides([assignment], NAMES)
    assert message in str(error.value)


def test_constructor_parameters_are_followed_through_kwargs_to_the_base_class():
    from maze_runners import LocalRunner

    fields = settable_fields(LocalRunner)
    assert fields["start_method"] == str | None
    assert {"n_envs", "n_eval_envs", "eval_episodes", "torch_threads"} <= set(fields)


@pytest.mark.parametrize(
    ("text", "annotation", "value"),
    [
        ("off", bool, False),
        ("3", int | None, 3),
        ("null", float | None, None),
        ("b", Literal["a", "b"], "b"),
        ("[1, 2]", tuple[int, ...], (1, 2)),
        ("[1, 2]", list[int], [1, 2]),
        ("abc", Any, "abc"),
        ("2", Any, 2),
    ],
)
def test_convert(text, annotation, value):
    assert convert(text, annotation) == value


def test_only_the_sections_used_are_loaded():
    # an unknown policy name does not matter while no override sets a policy field
    assert parse_overrides(["algorithm.gamma=0.5"], {**NAMES, "policy": "no-such-policy"}) == {
        "algorithm.gamma": 0.5
    }

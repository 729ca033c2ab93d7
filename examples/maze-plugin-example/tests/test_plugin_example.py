"""Tests of the template plugin; run them with ``pytest`` in the plugin's directory."""

from __future__ import annotations

import importlib

import pytest
import torch
from maze_core import RunContext
from maze_core.errors import ConfigurationError

from maze_plugin_example import CorridorEnv, ReinforceAlgorithmConfig, plugin
from maze_plugin_example.trainer import monte_carlo_returns

LEFT, RIGHT = {"move": 0}, {"move": 1}


def walk(env, action, steps):
    return [env.step(action) for _ in range(steps)]


def test_walking_to_the_goal_and_to_the_wrong_end():
    env = CorridorEnv()
    observation, _ = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    toward_goal, away = (RIGHT, LEFT) if observation["goal"][0] > 0 else (LEFT, RIGHT)
    steps = walk(env, toward_goal, 3)
    assert [step[1] for step in steps] == pytest.approx([-0.05, -0.05, 1.0])
    assert [step[2] for step in steps] == [False, False, True]

    env.reset(seed=0)
    *_, (_, reward, terminated, _, _) = walk(env, away, 3)
    assert (reward, terminated) == (-1.0, True)


def test_episodes_are_truncated_after_max_steps_and_reproducible():
    env = CorridorEnv(max_steps=4)
    env.reset(seed=1)
    steps = [env.step(action) for action in (LEFT, RIGHT, LEFT, RIGHT)]
    assert [(terminated, truncated) for _, _, terminated, truncated, _ in steps] == [(False, False)] * 3 + [
        (False, True)
    ]
    goals = [CorridorEnv().reset(seed=seed)[0]["goal"][0] for seed in range(20)]
    assert goals == [CorridorEnv().reset(seed=seed)[0]["goal"][0] for seed in range(20)]
    assert set(goals) == {-1.0, 1.0}


def test_monte_carlo_returns_stop_at_episode_ends_and_mark_unfinished_episodes():
    rewards = torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    ends = torch.tensor([[False], [True], [False], [False]])
    returns, complete = monte_carlo_returns(rewards, ends, torch.full_like(rewards, 0.5))
    assert returns[:, 0].tolist() == [1.5, 1.0, 1.5, 1.0]
    assert complete[:, 0].tolist() == [True, True, False, False]


def test_the_config_is_validated_at_construction():
    with pytest.raises(ConfigurationError, match="lr=-1"):
        ReinforceAlgorithmConfig(lr=-1)
    with pytest.raises(ConfigurationError, match="baseline='yes'"):
        ReinforceAlgorithmConfig(baseline="yes")


def test_the_hooks_register_importable_targets():
    registered = {}
    plugin.register_envs(register=lambda name, target: registered.update({name: target}))
    plugin.register_algorithms(register=lambda name, target: registered.update({name: target}))
    loaded = {}
    for name, target in registered.items():
        module, _, attribute = target.partition(":")
        loaded[name] = getattr(importlib.import_module(module), attribute)
    assert set(loaded.values()) == {CorridorEnv, ReinforceAlgorithmConfig}


@pytest.mark.parametrize("baseline", [True, False])
def test_reinforce_learns_the_corridor(baseline, tmp_path):
    algorithm = ReinforceAlgorithmConfig(baseline=baseline)
    with RunContext(env=CorridorEnv, algorithm=algorithm, run_dir=tmp_path, seed=0, silent=True) as rc:
        rc.train(n_epochs=2)
        assert rc.evaluate(n_episodes=8)["episode_return_mean"] == pytest.approx(0.9, abs=1e-4)

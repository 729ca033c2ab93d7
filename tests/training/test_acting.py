"""Using a trained policy: ``RunContext.compute_action`` speaks a gymnasium env's own types, and
``evaluate`` runs torch on the run's threads, as training does."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from maze_core import RunContext
from maze_core.errors import ConfigurationError

TINY = {
    "algorithm.epoch_length": 1,
    "algorithm.n_rollout_steps": 8,
    "runner.n_envs": 1,
    "runner.eval_episodes": 0,
}


def trained(env, tmp_path, **overrides) -> RunContext:
    context = RunContext(env=env, overrides={**TINY, **overrides}, run_dir=tmp_path, seed=0, silent=True)
    context.train(n_epochs=1)
    context.close()
    return context


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory):
    return trained("CartPole-v1", tmp_path_factory.mktemp("cartpole"))


def test_a_gymnasium_observation_gets_the_envs_own_action(cartpole):
    env = gym.make("CartPole-v1")
    observation, _ = env.reset(seed=0)
    for _ in range(20):  # the SB3 user's loop, unchanged
        action = cartpole.compute_action(observation, deterministic=True)
        assert isinstance(action, np.integer) and env.action_space.contains(action)
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            observation, _ = env.reset()
    as_dict = cartpole.compute_action({"observation": observation}, deterministic=True)
    assert as_dict == {"action": cartpole.compute_action(observation, deterministic=True)}


def test_a_batch_of_observations_gets_a_batch_of_actions(cartpole):
    observations = np.stack([gym.make("CartPole-v1").reset(seed=seed)[0] for seed in range(5)])
    actions = cartpole.compute_action(observations, deterministic=True)
    assert actions.shape == (5,) and actions.dtype == np.int64
    singles = [cartpole.compute_action(observation, deterministic=True) for observation in observations]
    assert actions.tolist() == singles


def test_a_box_action_comes_back_in_the_spaces_dtype_and_bounds(tmp_path):
    context = trained("Pendulum-v1", tmp_path)
    env = gym.make("Pendulum-v1")
    observation, _ = env.reset(seed=0)
    action = context.compute_action(observation)
    assert action.shape == (1,) and action.dtype == np.float32 and env.action_space.contains(action)
    env.step(action)


class DictObservationEnv(gym.Env):
    """A gymnasium env with a Dict observation and a Discrete action: its observation is a dict."""

    observation_space = gym.spaces.Dict(
        position=gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32), goal=gym.spaces.Discrete(3)
    )
    action_space = gym.spaces.Discrete(4)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        return self.observation_space.sample(), 0.0, False, False, {}


def test_a_dict_observation_of_a_gymnasium_env_gets_the_envs_own_action(tmp_path):
    context = trained(DictObservationEnv, tmp_path)
    env = DictObservationEnv()
    observation, _ = env.reset(seed=0)
    action = context.compute_action(observation)
    assert isinstance(action, np.integer)
    env.step(action)
    with pytest.raises(ConfigurationError, match=r"observation\['goal'\] is missing"):
        context.compute_action({"position": observation["position"]})


def test_wrong_observations_are_one_line_errors(cartpole):
    with pytest.raises(
        ConfigurationError, match=r"is of shape \(3,\); the env's is of shape \(4,\).*\(n, 4\)"
    ):
        cartpole.compute_action(np.zeros(3, np.float32))
    with pytest.raises(ConfigurationError, match="must be numbers"):
        cartpole.compute_action("left")


def test_a_maze_env_says_it_takes_its_observation_dict(tmp_path):
    from dummy_envs import DictEnv

    context = trained(DictEnv, tmp_path)
    with pytest.raises(ConfigurationError, match="takes an observation dict"):
        context.compute_action(np.zeros(3, np.float32))


class ThreadsSeen(gym.Wrapper):
    """CartPole recording torch's thread count at every step: what evaluation acts with."""

    seen: set[int] = set()

    def step(self, action):
        ThreadsSeen.seen.add(torch.get_num_threads())
        return super().step(action)


def test_evaluate_runs_torch_on_the_runs_threads(tmp_path):
    context = trained(lambda: ThreadsSeen(gym.make("CartPole-v1")), tmp_path)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # as a fresh `maze evaluate` process has it on two or more cores
        ThreadsSeen.seen.clear()
        context.evaluate(n_episodes=1)
        assert ThreadsSeen.seen == {1}  # runner.torch_threads
    finally:
        torch.set_num_threads(before)

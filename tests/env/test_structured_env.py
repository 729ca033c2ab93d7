"""MazeEnv defaults: actor ids, env time, seeding and metrics, on the dummy envs."""

import numpy as np
import pytest
from dummy_envs import DictEnv, MultiAgentEnv, TwoStepEnv
from gymnasium import spaces

from maze_core.env import ActorID, MazeEnv, StructuredEnv


def run_episode(env, seed=0, sample_seed=0):
    """Random actions until the episode ends; returns (rewards, actor ids, env times after each step)."""
    env.reset(seed=seed)
    env.action_space.seed(sample_seed)
    rewards, actors, times = [], [], []
    while True:
        actors.append(env.actor_id())
        space = env.action_spaces_dict[env.actor_id().step_key]
        space.seed(sample_seed + len(rewards))
        _, reward, terminated, truncated, _ = env.step(space.sample())
        rewards.append(reward)
        times.append(env.get_env_time())
        if terminated or truncated:
            return rewards, actors, times


def test_actor_id_is_a_named_tuple_equal_to_a_plain_tuple():
    actor = ActorID(1, 2)
    assert actor == (1, 2)
    assert (actor.step_key, actor.agent_id) == (1, 2)
    assert hash(actor) == hash((1, 2))


def test_single_actor_env_advances_env_time_every_step():
    env = DictEnv(episode_length=4)
    assert isinstance(env, StructuredEnv)
    assert env.agent_counts_dict == {0: 1}
    rewards, actors, times = run_episode(env)
    assert times == [1, 2, 3, 4]
    assert set(actors) == {(0, 0)}
    env.reset()
    assert env.get_env_time() == 0


def test_two_step_env_advances_env_time_after_the_second_sub_step():
    env = TwoStepEnv(n_env_steps=3)
    _, actors, times = run_episode(env)
    assert actors == [(0, 0), (1, 0)] * 3
    assert times == [0, 1, 1, 2, 2, 3]
    assert env.observation_space is env.observation_spaces_dict[0]
    env.step({"pick": 1})
    assert env.actor_id() == (1, 0)
    assert env.observation_space is env.observation_spaces_dict[1]
    assert env.action_space is env.action_spaces_dict[1]


def test_multi_agent_env_agents_act_in_turn_within_one_env_step():
    env = MultiAgentEnv(n_env_steps=2)
    assert env.agent_counts_dict == {0: 2}
    _, actors, times = run_episode(env)
    assert actors == [(0, 0), (0, 1), (0, 0), (0, 1)]
    assert times == [0, 1, 1, 2]


def test_episode_ending_in_the_middle_of_an_env_step_completes_it():
    class EndsAtSubStepZero(TwoStepEnv):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, reward, terminated or self.actor_id().step_key == 1, truncated, info

    env = EndsAtSubStepZero()
    env.reset(seed=0)
    assert env.step({"pick": 0})[2]
    assert env.get_env_time() == 1


def test_same_seed_same_episode_and_seed_applies_to_the_next_reset_once():
    first = run_episode(DictEnv(), seed=3)[0]
    assert run_episode(DictEnv(), seed=3)[0] == first
    assert run_episode(DictEnv(), seed=4)[0] != first

    env = DictEnv()
    env.seed(3)
    obs_seeded, _ = env.reset()
    obs_unseeded, _ = env.reset()  # continues the random stream
    fresh = DictEnv()
    np.testing.assert_array_equal(obs_seeded["position"], fresh.reset(seed=3)[0]["position"])
    assert not np.array_equal(obs_unseeded["position"], obs_seeded["position"])


def test_record_metric_and_pop_metrics():
    env = DictEnv()
    env.reset(seed=0)
    assert env.pop_metrics() == []
    env.step({"choice": 0, "force": np.zeros(2, np.float32)})
    metrics = env.pop_metrics()
    assert [name for name, _ in metrics] == ["correct"]
    assert env.pop_metrics() == []


def test_minimal_subclass_needs_only_reset_step_and_spaces():
    class Minimal(MazeEnv):
        observation_spaces_dict = {0: spaces.Dict(x=spaces.Box(0, 1, (1,), np.float32))}
        action_spaces_dict = {0: spaces.Dict(a=spaces.Discrete(2))}

        def reset(self, seed=None, options=None):
            return {"x": self.np_random.random(1).astype(np.float32)}, {}

        def step(self, action):
            return {"x": np.zeros(1, np.float32)}, float(action["a"]), False, False, {}

    env = Minimal()
    assert env.actor_id() == (0, 0) and not env.is_actor_done()
    assert env.agent_counts_dict == {0: 1}
    assert env.reset(seed=1)[0]["x"] == Minimal().reset(seed=1)[0]["x"]
    assert env.step({"a": 1})[1] == 1.0
    assert env.get_env_time() == 1
    env.close()


def test_maze_env_is_abstract():
    with pytest.raises(TypeError):
        MazeEnv()

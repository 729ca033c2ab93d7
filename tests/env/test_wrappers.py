"""Wrapper transparency and LogStatsWrapper statistics (checked against hand-counted episodes)."""

import copy
import pickle

import numpy as np
import pytest
from dummy_envs import DictEnv, MultiAgentEnv, TwoStepEnv

from maze_core import statistics
from maze_core.env import (
    ActionWrapper,
    GymMazeEnv,
    LogStatsEnv,
    LogStatsWrapper,
    MazeEnv,
    ObservationWrapper,
    RewardWrapper,
    StructuredEnv,
    Wrapper,
)


def play(env, n_steps, seed=0):
    """Step with seeded random actions; returns the finished episodes as (return, length) pairs."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    episodes, episode_return, start_time = [], 0.0, env.get_env_time()
    for _ in range(n_steps):
        space = env.action_spaces_dict[env.actor_id().step_key]
        space.seed(int(rng.integers(1 << 30)))
        _, reward, terminated, truncated, _ = env.step(space.sample())
        episode_return += reward
        if terminated or truncated:
            episodes.append((episode_return, env.get_env_time() - start_time))
            env.reset()
            episode_return, start_time = 0.0, env.get_env_time()
    return episodes


def test_wrapped_env_isinstance_checks_as_wrapper_and_as_wrapped_env():
    env = LogStatsWrapper.wrap(GymMazeEnv("CartPole-v1"))
    for cls in (LogStatsWrapper, Wrapper, LogStatsEnv, GymMazeEnv, MazeEnv, StructuredEnv):
        assert isinstance(env, cls), cls
    assert not isinstance(env, DictEnv)
    assert type(env) is LogStatsWrapper

    class Scale(RewardWrapper):
        def reward(self, reward):
            return 2 * reward

    twice = Scale.wrap(env)
    for cls in (Scale, RewardWrapper, LogStatsWrapper, GymMazeEnv, MazeEnv):
        assert isinstance(twice, cls), cls
    assert twice.unwrapped is env.env


def test_attribute_access_falls_through():
    inner = GymMazeEnv("CartPole-v1")
    env = LogStatsWrapper.wrap(LogStatsWrapper.wrap(inner))
    assert env.gym_env is inner.gym_env
    assert env.spec.id == "CartPole-v1"
    assert env.observation_space is inner.observation_space
    with pytest.raises(AttributeError):
        env.no_such_attribute  # noqa: B018
    env.new_attribute = 1  # setting stays on the wrapper
    assert not hasattr(inner, "new_attribute")


def test_wrapped_env_pickles_and_deep_copies():
    env = LogStatsWrapper.wrap(DictEnv())
    env.reset(seed=0)
    for clone in (pickle.loads(pickle.dumps(env)), copy.deepcopy(env)):
        assert type(clone) is LogStatsWrapper and isinstance(clone, DictEnv)
        assert clone.env is not env.env


def test_convenience_wrappers():
    class Negate(ObservationWrapper):
        def observation(self, observation):
            return {key: -value for key, value in observation.items()}

    class FixedChoice(ActionWrapper):
        def action(self, action):
            return {**action, "choice": 0}

    plain, wrapped = DictEnv(), FixedChoice.wrap(Negate.wrap(DictEnv()))
    np.testing.assert_array_equal(wrapped.reset(seed=1)[0]["grid"], -plain.reset(seed=1)[0]["grid"])
    action = {"choice": 2, "force": np.zeros(2, np.float32)}
    assert wrapped.step(action)[1] == plain.step({**action, "choice": 0})[1]


@pytest.mark.parametrize(
    "make_env, length",
    [(lambda: GymMazeEnv("CartPole-v1"), None), (DictEnv, 10), (TwoStepEnv, 5), (MultiAgentEnv, 5)],
    ids=["cartpole", "dict", "two_step", "multi_agent"],
)
def test_log_stats_wrapper_matches_hand_counted_episodes(make_env, length):
    episodes = play(make_env(), 130)
    env = LogStatsWrapper.wrap(make_env())
    assert play(env, 130) == episodes  # the wrapper changes nothing
    stats = env.write_epoch_stats()

    returns = [r for r, _ in episodes]
    lengths = [n for _, n in episodes]
    if length is not None:  # episode length counts env steps, not sub-steps or agent turns
        assert set(lengths) == {length}
    assert stats["episode_count"] == len(episodes)
    assert stats["episode_return_mean"] == pytest.approx(np.mean(returns))
    assert stats["episode_return_min"] == pytest.approx(min(returns))
    assert stats["episode_return_max"] == pytest.approx(max(returns))
    assert stats["episode_return_std"] == pytest.approx(np.std(returns))
    assert stats["episode_length_mean"] == pytest.approx(np.mean(lengths))
    assert stats["episode_length_median"] == pytest.approx(np.median(lengths))
    assert stats["total_episode_count"] == len(episodes)
    assert stats["total_step_count"] == sum(lengths)
    assert env.last_epoch_stats == stats
    assert env.get_stats_value("episode_count") == len(episodes)


def test_env_metrics_become_epoch_means():
    env = LogStatsWrapper.wrap(TwoStepEnv())
    env.reset(seed=0)
    picks = []
    for step in range(8):
        if env.actor_id().step_key == 0:
            pick = step % 4 == 0
            picks.append(float(pick == bool(env.unwrapped._value[0] > 0)))
            env.step({"pick": int(pick)})
        else:
            env.step({"amount": np.zeros(1, np.float32)})
    assert env.write_epoch_stats()["metric/pick_correct"] == pytest.approx(np.mean(picks))


def test_partial_episodes_do_not_count_and_epochs_accumulate_totals():
    env = LogStatsWrapper.wrap(DictEnv(episode_length=10))
    play(env, 15)  # one finished episode, one half done
    stats = env.write_epoch_stats()
    assert stats["episode_count"] == 1 and stats["total_step_count"] == 10

    env.reset()  # abandons the unfinished episode
    play(env, 5)
    stats = env.write_epoch_stats()
    assert stats["episode_count"] == 0 and "episode_return_mean" not in stats
    assert stats["total_episode_count"] == 1
    with pytest.raises(KeyError, match="only present when an episode finished"):
        env.get_stats_value("episode_return_mean")

    play(env, 10)
    env.clear_epoch_stats()
    assert env.write_epoch_stats()["episode_count"] == 0


def test_logging_prefix_sends_epoch_stats_to_the_log_hub():
    env = LogStatsWrapper.wrap(DictEnv(episode_length=3), logging_prefix="train")
    play(env, 3)
    stats = env.write_epoch_stats()
    assert statistics.increment_log_step() == {"train": stats}

    silent = LogStatsWrapper.wrap(DictEnv(episode_length=3))
    play(silent, 3)
    silent.write_epoch_stats()
    assert statistics.increment_log_step() == {}


def test_wrapper_close_closes_the_env():
    closed = []

    class Closing(DictEnv):
        def close(self):
            closed.append(True)

    LogStatsWrapper.wrap(Closing()).close()
    assert closed == [True]

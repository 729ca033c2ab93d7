"""The replay buffer, filled by the collector on each env path: a stored transition never crosses
an episode boundary, a next-step env's reset-only step is never stored, a truncated transition
keeps its true final observation and a terminated one is flagged (no bootstrap)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from dummy_envs import SCRIPT, ScriptedVectorEnv
from gymnasium.vector import AutoresetMode
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer

from maze_core.agent import TorchActorCritic
from maze_core.env.gym_env import GymMazeEnv
from maze_core.env.native import NativeVectorEnv
from maze_core.env.vector import SequentialVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.training import memory
from maze_core.training.replay import ReplayBuffer
from maze_core.training.rollout import VectorEnvCollector


def _model(env):
    spaces, counts = env.observation_spaces_dict, env.agent_counts_dict
    policy = ProbabilisticPolicyComposer(env.action_spaces_dict, spaces, agent_counts_dict=counts).policy
    return TorchActorCritic(policy, StepStateCriticComposer(spaces, counts).critic)


def _filled(env, n_steps, capacity=100, rounds=1):
    buffer = ReplayBuffer(env.observation_spaces_dict[0], env.action_spaces_dict[0], capacity)
    collector, model = VectorEnvCollector(env), _model(env)
    for _ in range(rounds):
        buffer.add(collector.collect(model, n_steps, behaviour=False, next_observations=True))
    return buffer


def _transitions(buffer):
    """(observation, next observation, reward, terminated) of each stored transition."""
    return sorted(
        (float(o), float(n), float(r), bool(t))
        for o, n, r, t in zip(
            buffer.observations["v"][: len(buffer), 0],
            buffer.next_observations["v"][: len(buffer), 0],
            buffer.rewards[: len(buffer)],
            buffer.terminated[: len(buffer)],
            strict=True,
        )
    )


def _script_transitions():
    """Every transition of SCRIPT's episodes, as the MDP has them."""
    expected = []
    for episodes in SCRIPT:
        for observations, end in episodes:
            for i in range(len(observations) - 1):
                last = i == len(observations) - 2
                expected.append((observations[i], observations[i + 1], 1.0, last and end == "terminated"))
    return sorted(expected)


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_each_stored_transition_is_one_of_an_episode_with_its_true_next_observation(mode):
    """SCRIPT: env 0 plays 1 -> 2 -> 3 (truncated), then 10 .. 15 (terminated); env 1 plays 5 .. 8
    (terminated), then 30 .. 34 (terminated). Same-step: the final observation comes from the
    info; next-step: the reset-only steps (reward 0) are left out."""
    buffer = _filled(NativeVectorEnv(ScriptedVectorEnv(mode)), n_steps=6)
    stored = _transitions(buffer)
    assert len(stored) == 12 and set(stored) <= set(_script_transitions())
    assert (2.0, 3.0, 1.0, False) in stored  # truncated: bootstraps from its final observation 3
    assert (7.0, 8.0, 1.0, True) in stored  # terminated: flagged, with its final observation
    assert all(reward == 1.0 for _, _, reward, _ in stored)  # no reset-only step
    assert all(following - observation == 1 for observation, following, _, _ in stored)  # no boundary


def test_the_per_env_path_keeps_a_truncated_episode_s_final_observation():
    """gymnasium envs stepped one by one (same-step autoreset): CartPole cut at 3 steps; the
    stored next observation of each third transition is the true final one, not a reset."""
    env = SequentialVectorEnv([lambda: GymMazeEnv(gym.make("CartPole-v1", max_episode_steps=3))] * 2)
    buffer = _filled(env, n_steps=9)
    observations = buffer.observations["observation"][: len(buffer)]
    following = buffer.next_observations["observation"][: len(buffer)]
    assert len(buffer) == 18 and not buffer.terminated.any()
    # within an episode the next observation is the next transition's; each env's transitions are
    # stored step by step, envs interleaved
    by_env = [torch.arange(i, 18, 2) for i in range(2)]
    for rows in by_env:
        for t in range(8):
            if t % 3 != 2:
                assert torch.equal(following[rows[t]], observations[rows[t + 1]])
            else:  # the episode was cut: the final observation is no reset state (|x| <= 0.05)
                assert not torch.equal(following[rows[t]], observations[rows[t + 1]])
    final = following[by_env[0][2]]
    assert final.abs().max() > 0.05 or not torch.allclose(final, observations[by_env[0][3]])


def test_the_ring_keeps_the_newest_and_sampling_is_uniform_and_seeded():
    env = NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.SAME_STEP))
    buffer = _filled(env, n_steps=2, capacity=6, rounds=3)
    assert len(buffer) == 6 and buffer.position == 0  # 3 x 2 x 2 transitions: the last 6 kept
    assert sorted(buffer.observations["v"][:, 0].tolist()) == [11, 12, 13, 30, 31, 32]
    first = buffer.sample(1000, generator=torch.Generator().manual_seed(0))
    second = buffer.sample(1000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first.observations["v"], second.observations["v"])
    counts = torch.unique(first.observations["v"], return_counts=True)[1]
    assert len(counts) == 6 and counts.min() > 120  # about 167 each


def test_a_buffer_round_trips_through_its_state_dict():
    env = NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.NEXT_STEP))
    buffer = _filled(env, n_steps=4)
    copy = ReplayBuffer(env.observation_spaces_dict[0], env.action_spaces_dict[0], 100)
    copy.load_state_dict(buffer.state_dict())
    assert _transitions(copy) == _transitions(buffer) and copy.position == buffer.position
    smaller = ReplayBuffer(env.observation_spaces_dict[0], env.action_spaces_dict[0], 50)
    with pytest.raises(ConfigurationError, match="algorithm.buffer_size is 50"):
        smaller.load_state_dict(buffer.state_dict())


def test_a_buffer_that_does_not_fit_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda device="cpu": 2**30)
    monkeypatch.setattr("maze_core.training.replay.available_memory", lambda device="cpu": 2**30)
    space = gym.spaces.Dict({"observation": gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)})
    actions = gym.spaces.Dict({"action": gym.spaces.Discrete(4)})
    with pytest.raises(
        ConfigurationError,
        match=r"^a replay buffer of algorithm.buffer_size=1,000,000 transitions needs about 52\.6 GiB "
        r"of memory, but only 1\.0 GiB are available; lower algorithm.buffer_size$",
    ):
        ReplayBuffer(space, actions, 1_000_000)

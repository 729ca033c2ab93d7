"""Observation and reward normalization: running statistics against numpy, every vector env kind,
frozen statistics at evaluation, and the statistics in the checkpoint."""

import gymnasium
import numpy as np
import pytest
import torch
from dummy_envs import ScriptedVectorEnv
from dummy_models import QUICK_RUN
from gymnasium.vector import AutoresetMode

from maze_core import RunContext
from maze_core.env import SequentialVectorEnv, SubprocVectorEnv
from maze_core.env.names import resolve_env
from maze_core.env.native import NativeVectorEnv, native_factory
from maze_core.env.normalization import Normalization, NormalizedVectorEnv, RunningMeanStd
from maze_core.errors import ConfigurationError


def test_running_mean_std_equals_numpy_over_all_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 2, 3)) for n in (1, 7, 64, 5)]
    rms = RunningMeanStd((2, 3))
    for batch in batches:
        rms.update(batch)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean, everything.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(rms.var, everything.var(axis=0), rtol=1e-4)


def _cartpoles(kind, n_envs=4):
    if kind == "sequential":
        return SequentialVectorEnv([resolve_env("CartPole-v1")] * n_envs)
    if kind == "subprocess":
        return SubprocVectorEnv([resolve_env("CartPole-v1")] * n_envs, n_workers=2)
    return native_factory(resolve_env("CartPole-v1"))(n_envs)


@pytest.mark.parametrize("kind", ["sequential", "subprocess", "native"])
def test_observations_are_normalized_with_the_statistics_of_all_observations_so_far(kind):
    env = NormalizedVectorEnv(_cartpoles(kind), rewards=False, clip_observations=1e9)
    raw_observations = []
    original_step, original_reset = env.env.step, env.env.reset

    def reset(**kwargs):
        result = original_reset(**kwargs)
        raw_observations.append(result[0]["observation"])
        return result

    def step(actions):
        result = original_step(actions)
        raw_observations.append(result[0]["observation"])
        return result

    env.env.step, env.env.reset = step, reset
    observation, _ = env.reset(seed=0)
    for _ in range(50):
        observation, rewards, *_ = env.step({"action": np.ones(4, dtype=np.int64)})
    seen = np.concatenate(raw_observations)
    expected = (raw_observations[-1] - seen.mean(axis=0)) / np.sqrt(seen.var(axis=0) + 1e-8)
    np.testing.assert_allclose(observation["observation"], expected, rtol=1e-3, atol=1e-4)
    assert observation["observation"].dtype == np.float32
    assert rewards.tolist() == [1.0] * 4 or kind == "native"  # raw rewards (native: reset steps are 0)
    env.close()


def test_rewards_are_scaled_by_the_std_of_the_discounted_return():
    """Hand-computed: every step has reward 1; G = gamma * G + r restarts after an episode end."""
    gamma = 0.5
    env = NormalizedVectorEnv(
        NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.SAME_STEP)), observations=False, gamma=gamma
    )
    env.reset()
    returns, seen = np.zeros(2), []
    for _ in range(4):
        _, rewards, terminated, truncated, _ = env.step({"action": np.zeros(2, dtype=np.int64)})
        returns = returns * gamma + 1.0
        seen.append(returns.copy())
        expected = np.clip(1.0 / np.sqrt(np.concatenate(seen).var() + 1e-8), -10, 10)
        np.testing.assert_allclose(rewards, [expected, expected], rtol=1e-3)
        returns[terminated | truncated] = 0.0


def test_a_next_step_env_s_reset_only_steps_add_no_return_sample():
    """On the next-step path an env whose episode ended steps once more only to reset (reward 0):
    that is no transition, so its zero return must not enter the return statistics."""
    env = NormalizedVectorEnv(NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.NEXT_STEP)), observations=False)
    env.reset()
    samples = 0
    for _ in range(8):
        env.step({"action": np.zeros(2, dtype=np.int64)})
        samples += int((~env.env.reset_steps()).sum())
    assert env.env.reset_steps is not None and samples < 16  # the script has reset-only steps
    assert env.normalization.return_stats.count == pytest.approx(samples + 1e-4)
    env.close()


def test_final_observations_are_normalized_without_updating_the_statistics():
    env = NormalizedVectorEnv(NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.SAME_STEP)), rewards=False)
    env.reset()
    env.step({"action": np.zeros(2, dtype=np.int64)})
    _, _, _, truncated, infos = env.step({"action": np.zeros(2, dtype=np.int64)})
    assert truncated.tolist() == [True, False]
    stats = env.normalization.observation_stats[0]["v"]
    count = stats.count
    expected = (3.0 - stats.mean) / np.sqrt(stats.var + 1e-8)
    np.testing.assert_allclose(infos[0]["final_observation"]["v"], expected, rtol=1e-5)
    assert stats.count == count


def test_an_evaluation_env_uses_the_training_statistics_frozen_and_raw_rewards():
    train = NormalizedVectorEnv(_cartpoles("native"))
    train.reset(seed=0)
    for _ in range(20):
        train.step({"action": np.zeros(4, dtype=np.int64)})
    evaluation = NormalizedVectorEnv(_cartpoles("sequential", 2), train.normalization, training=False)
    before = train.normalization.state_dict()["observations"]["0"]["observation"]
    observation, _ = evaluation.reset(seed=1)
    _, rewards, *_ = evaluation.step({"action": np.zeros(2, dtype=np.int64)})
    assert rewards.tolist() == [1.0, 1.0]
    after = train.normalization.state_dict()["observations"]["0"]["observation"]
    assert torch.equal(before["mean"], after["mean"]) and before["count"] == after["count"]
    train.close()
    evaluation.close()


def test_only_float_entries_are_normalized():
    spaces = gymnasium.spaces
    normalization = Normalization(
        {0: spaces.Dict(x=spaces.Box(-1, 1, (2,)), cells=spaces.MultiDiscrete([3, 3]))}
    )
    assert list(normalization.observation_stats[0]) == ["x"]
    observation = {
        "x": np.array([[0.5, -0.5], [0.1, 0.3]], dtype=np.float32),
        "cells": np.array([[1, 2], [0, 1]]),
    }
    normalized = normalization.normalize_observation(observation, 0, update=True)
    assert normalized["cells"] is observation["cells"]
    np.testing.assert_allclose(normalized["x"].mean(axis=0), [0.0, 0.0], atol=1e-3)


def test_bad_settings_are_clear_errors():
    spaces = {0: gymnasium.spaces.Dict(x=gymnasium.spaces.Box(-1, 1, (1,)))}
    with pytest.raises(ConfigurationError, match="clip_observations"):
        Normalization(spaces, clip_observations=0)
    with pytest.raises(ConfigurationError, match="gamma"):
        Normalization(spaces, gamma=1.5)
    with pytest.raises(ConfigurationError, match="normalize_rewards"):
        RunContext(env="CartPole-v1", overrides={"runner.normalize_rewards": "yes"})


QUICK = {**QUICK_RUN, "runner.normalize_observations": True, "runner.normalize_rewards": True}


@pytest.mark.parametrize("native", [True, False])
def test_statistics_go_into_the_checkpoint_and_evaluation_uses_them(tmp_path, native):
    rc = RunContext(
        env="CartPole-v1",
        run_dir=tmp_path,
        seed=0,
        silent=True,
        overrides={**QUICK, "runner.native_vector_env": native},
    )
    rc.train(n_epochs=2)
    normalization = rc._trainer.collector.env.normalization
    evaluation_env = rc._trainer.evaluator.eval_env
    assert isinstance(evaluation_env, NormalizedVectorEnv) and not evaluation_env.training
    assert evaluation_env.normalization is normalization
    rc.close()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["collector"]["normalization"]
    stats = normalization.observation_stats[0]["observation"]
    np.testing.assert_allclose(saved["observations"]["0"]["observation"]["mean"].numpy(), stats.mean)
    assert saved["returns"]["count"] == normalization.return_stats.count > 60

    observation = {"observation": np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)}
    action = rc.compute_action(observation, deterministic=True)
    loaded = RunContext.from_run_dir(tmp_path, silent=True)
    assert loaded.compute_action(observation, deterministic=True)["action"] == action["action"]
    # the best policy acts with the statistics saved with it (see the next test)
    with_best = torch.load(tmp_path / "state_dict.pt", weights_only=True)["normalization"]
    loaded_stats = loaded._observation_normalization().observation_stats[0]["observation"]
    np.testing.assert_allclose(
        loaded_stats.mean, with_best["observations"]["0"]["observation"]["mean"].numpy()
    )
    np.testing.assert_allclose(loaded_stats.var, with_best["observations"]["0"]["observation"]["var"].numpy())
    assert loaded.evaluate(n_episodes=2)["episode_count"] == 2

    # resuming continues from the saved statistics
    loaded.train(n_epochs=1)
    resumed = loaded._trainer.collector.env.normalization.return_stats
    assert resumed.count > normalization.return_stats.count
    loaded.close()


def test_the_best_model_keeps_the_statistics_it_was_evaluated_with(tmp_path):
    """Statistics keep moving after the best epoch; the best policy must act with its own."""
    rc = RunContext(env="CartPole-v1", run_dir=tmp_path, seed=0, silent=True, overrides=QUICK)
    rc.train(n_epochs=1)
    normalization = rc._trainer.collector.env.normalization
    at_best = normalization.observation_stats[0]["observation"].mean.copy()
    rc._trainer.model_selection.best_reward = float("inf")  # no later epoch can be the best
    rc.train(n_epochs=1)
    assert not np.allclose(normalization.observation_stats[0]["observation"].mean, at_best)
    rc.close()

    saved = torch.load(tmp_path / "state_dict.pt", weights_only=True)["normalization"]
    np.testing.assert_allclose(saved["observations"]["0"]["observation"]["mean"].numpy(), at_best)
    loaded = RunContext.from_run_dir(tmp_path, silent=True)
    for run in (rc, loaded):
        np.testing.assert_allclose(
            run._observation_normalization().observation_stats[0]["observation"].mean, at_best
        )
    observation = {"observation": np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)}
    assert loaded.compute_action(observation, deterministic=True) == rc.compute_action(
        observation, deterministic=True
    )


@pytest.mark.slow  # 15 s of learning; the statistics, clipping and checkpointing are tested above
def test_normalized_cartpole_learns(tmp_path):
    """The CartPole fast test's budget with both normalizations (random play returns about 22)."""
    rc = RunContext(
        env="CartPole-v1",
        run_dir=tmp_path,
        seed=0,
        silent=True,
        overrides={
            "algorithm.patience": 0,
            "runner.normalize_observations": True,
            "runner.normalize_rewards": True,
        },
    )
    rc.train(n_epochs=8)
    rc.close()
    assert rc.evaluate(n_episodes=8)["episode_return_mean"] > 150

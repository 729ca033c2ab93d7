"""Case 10: an env that returns something other than numbers (a string or None as observation, a
string as reward) is one EnvWorkerError naming the env and what it returned, on every runner and
every path of the vector envs; a None observation never reaches the loss as NaN."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from safety_support import (
    QUICK_OVERRIDES,
    NoneObservationEnv,
    NoneObservationWrapper,
    StringObservationEnv,
    StringRewardEnv,
    TinyEnv,
)

from maze_core import RunContext
from maze_core.env import GymMazeEnv, NativeVectorEnv, SequentialVectorEnv, SubprocVectorEnv
from maze_core.errors import EnvWorkerError

#: env -> what the error says it returned
MISBEHAVING = {
    StringObservationEnv: "observation['observation'] = 'hello' (str); an observation must be numbers",
    NoneObservationEnv: "observation['observation'] = None (NoneType); an observation must be numbers",
    StringRewardEnv: "reward = 'one' (str); a reward must be a number",
}


@pytest.mark.parametrize("runner", ["dev", "local"])
@pytest.mark.parametrize("env", list(MISBEHAVING), ids=lambda env: env.__name__)
def test_every_runner_names_the_env_and_what_it_returned(tmp_path, runner, env):
    with RunContext(env=env, runner=runner, overrides=QUICK_OVERRIDES, run_dir=tmp_path, silent=True) as rc:
        with pytest.raises(EnvWorkerError) as error:
            rc.train(1)
    message = str(error.value)
    assert message.startswith(f"training env 0 failed in step: it returned {MISBEHAVING[env]}"), message
    assert "nan" not in message.lower()


def _none_observation_maze_env():
    return NoneObservationWrapper(GymMazeEnv(TinyEnv()))


@pytest.mark.parametrize("vector_env", [SequentialVectorEnv, SubprocVectorEnv])
@pytest.mark.parametrize(
    "factory",
    [NoneObservationEnv, _none_observation_maze_env],
    ids=["gymnasium env (batched path)", "Maze env (per-env path)"],
)
def test_both_vector_envs_name_the_env_on_each_path(vector_env, factory):
    """SequentialVectorEnv steps plain gymnasium envs in a batch and Maze envs one by one;
    SubprocVectorEnv pickles what does not fit its shared memory (a None observation used to be
    taken for one written there)."""
    with vector_env([TinyEnv, factory], logging_prefix="eval") as env:
        env.reset(seed=0)
        with pytest.raises(EnvWorkerError, match=r"^evaluation env 1 failed in step: it returned obs"):
            env.step({"action": np.zeros(2, dtype=np.int64)})


class _NoneObservationVectorEnv(gymnasium.vector.VectorEnv):
    """A native batch of two envs whose second returns None as its observation."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self):
        self.num_envs = 2
        self.single_observation_space = spaces.Box(-1, 1, (3,), np.float32)
        self.single_action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        return np.zeros((2, 3), np.float32), {}

    def step(self, actions):
        observation = np.array([np.zeros(3, np.float32), None], dtype=object)
        return observation, np.ones(2), np.zeros(2, bool), np.zeros(2, bool), {}


def test_a_native_vector_env_names_the_env_in_its_batch():
    with NativeVectorEnv(_NoneObservationVectorEnv(), logging_prefix="train") as env:
        env.reset()
        with pytest.raises(
            EnvWorkerError,
            match=r"^training env 1 failed in step: it returned observation\['observation'\] = None",
        ):
            env.step({"action": np.zeros(2, dtype=np.int64)})


def test_numbers_in_other_types_are_still_accepted():
    """Rewards as numpy scalars or ints and observations as lists keep working."""

    class Lenient(TinyEnv):
        def step(self, action):
            _, _, terminated, truncated, info = super().step(action)
            return [0.0, 0.0, 0.0, 0.0], np.int64(1), terminated, truncated, info

    for env in (SequentialVectorEnv([Lenient] * 2), SequentialVectorEnv([lambda: GymMazeEnv(Lenient())] * 2)):
        with env:
            env.reset(seed=0)
            observation, rewards, *_ = env.step({"action": np.zeros(2, dtype=np.int64)})
            assert observation["observation"].dtype == np.float32 and rewards.tolist() == [1.0, 1.0]

"""MazeToGymEnv: a single-actor Maze env as a gymnasium env that passes gymnasium's checker."""

import warnings

import numpy as np
import pytest
from dummy_envs import DictEnv, MultiAgentEnv, SpacesGymEnv, TwoStepEnv
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from maze_core.env import GymMazeEnv, LogStatsWrapper
from maze_core.env.gym_adapter import MazeToGymEnv
from maze_core.errors import ConfigurationError

ENVS = {
    "cartpole": lambda: GymMazeEnv("CartPole-v1"),
    "pendulum": lambda: LogStatsWrapper.wrap(GymMazeEnv("Pendulum-v1")),
    "dict_env": DictEnv,
    "multi_spaces": lambda: GymMazeEnv(
        SpacesGymEnv(
            spaces.Dict(counts=spaces.MultiDiscrete([3, 4]), flags=spaces.MultiBinary(2)),
            spaces.MultiDiscrete([2, 3]),
        )
    ),
    "discrete_obs": lambda: GymMazeEnv(SpacesGymEnv(spaces.Discrete(5), spaces.MultiBinary(3))),
}


@pytest.mark.parametrize("name", ENVS)
def test_adapter_passes_the_gymnasium_env_checker(name):
    env = MazeToGymEnv(ENVS[name]())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advice about the wrapped envs' own spaces (e.g. infinite bounds)
        check_env(env, skip_render_check=True)


def test_single_keys_are_unwrapped_and_other_dicts_kept():
    cartpole = MazeToGymEnv(GymMazeEnv("CartPole-v1"))
    assert cartpole.action_space == spaces.Discrete(2)
    assert isinstance(cartpole.observation_space, spaces.Box)
    observation, _ = cartpole.reset(seed=0)
    assert observation.shape == (4,)
    assert cartpole.step(1)[1] == 1.0

    dict_env = MazeToGymEnv(DictEnv())
    assert dict_env.observation_space == DictEnv().observation_spaces_dict[0]
    assert dict_env.action_space == DictEnv().action_spaces_dict[0]
    dict_env.reset(seed=0)
    dict_env.step({"choice": 1, "force": np.zeros(2, np.float32)})


@pytest.mark.parametrize("env_cls", [TwoStepEnv, MultiAgentEnv])
def test_structured_envs_are_refused(env_cls):
    with pytest.raises(ConfigurationError, match="one step key and one agent"):
        MazeToGymEnv(env_cls())

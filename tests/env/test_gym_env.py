"""GymMazeEnv: space and value conversions for every supported space, seeding, errors."""

import gymnasium
import numpy as np
import pytest
from dummy_envs import SpacesGymEnv
from gymnasium import spaces

from maze_core.env import GymMazeEnv, MazeEnv
from maze_core.errors import ConfigurationError

FLAT_SPACES = {
    "box32": spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32),
    "box64": spaces.Box(-2.0, 2.0, shape=(2, 2), dtype=np.float64),
    "box_uint8": spaces.Box(0, 255, shape=(2,), dtype=np.uint8),
    "discrete": spaces.Discrete(4, start=1),
    "multi_discrete": spaces.MultiDiscrete([3, 5]),
    "multi_binary": spaces.MultiBinary(4),
}


@pytest.mark.parametrize("name", FLAT_SPACES)
def test_non_dict_observation_becomes_float32_dict_except_discrete(name):
    gym_space = FLAT_SPACES[name]
    env = GymMazeEnv(SpacesGymEnv(gym_space, spaces.Discrete(2)))
    reference = SpacesGymEnv(gym_space, spaces.Discrete(2))
    # a Discrete observation stays one, so that the default networks can one-hot encode it
    dtype = np.int64 if name == "discrete" else np.float32

    space = env.observation_space
    assert isinstance(space, spaces.Dict) and list(space.spaces) == ["observation"]
    assert space["observation"].dtype == dtype
    assert space["observation"].shape == gym_space.shape
    if name == "discrete":
        assert space["observation"] == gym_space

    observation, _ = env.reset(seed=7)
    expected, _ = reference.reset(seed=7)
    assert observation["observation"].dtype == dtype
    assert space.contains(observation)
    np.testing.assert_array_equal(observation["observation"], np.asarray(expected, dtype=dtype))
    observation, *_ = env.step({"action": 1})
    assert space.contains(observation)


def test_dict_observation_passes_through_with_float64_cast_to_float32():
    gym_space = spaces.Dict(
        pos=spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float64),
        img=spaces.Box(0, 255, shape=(2, 2), dtype=np.uint8),
        mode=spaces.Discrete(3),
    )
    env = GymMazeEnv(SpacesGymEnv(gym_space, spaces.Discrete(2)))
    space = env.observation_space
    assert set(space.spaces) == {"pos", "img", "mode"}
    assert space["pos"].dtype == np.float32
    assert space["img"] == gym_space["img"] and space["mode"] == gym_space["mode"]

    observation, _ = env.reset(seed=0)
    assert observation["pos"].dtype == np.float32
    assert observation["img"].dtype == np.uint8
    assert isinstance(observation["mode"], np.ndarray)
    assert space.contains(observation)


ACTION_SPACES = {
    "discrete": spaces.Discrete(3),
    "box": spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
    "multi_discrete": spaces.MultiDiscrete([2, 3]),
    "multi_binary": spaces.MultiBinary(3),
}


@pytest.mark.parametrize("name", ACTION_SPACES)
def test_non_dict_action_is_wrapped_and_reaches_the_gym_env_unchanged(name):
    gym_space = ACTION_SPACES[name]
    gym_env = SpacesGymEnv(spaces.Box(0, 1, (1,), np.float32), gym_space)
    env = GymMazeEnv(gym_env)
    assert env.action_space == spaces.Dict(action=gym_space)
    env.reset(seed=0)
    env.action_space.seed(0)
    action = env.action_space.sample()
    # policies hand over numpy values (e.g. int64 scalars); the gym env must accept them
    env.step({"action": np.asarray(action["action"])})
    assert gym_space.contains(gym_env.last_action)
    np.testing.assert_array_equal(gym_env.last_action, action["action"])
    if name == "discrete":  # a numpy scalar of the space's dtype, as the space itself samples it
        assert type(gym_env.last_action) is type(gym_space.sample()) is np.int64


def test_dict_action_passes_through():
    gym_space = spaces.Dict(move=spaces.Discrete(2), force=spaces.Box(-1.0, 1.0, (2,), np.float32))
    gym_env = SpacesGymEnv(spaces.Box(0, 1, (1,), np.float32), gym_space)
    env = GymMazeEnv(gym_env)
    assert env.action_space is gym_space
    env.reset(seed=0)
    _, reward, *_ = env.step({"move": np.int64(1), "force": np.array([0.5, 0.25])})
    assert reward == pytest.approx(1.75)
    assert gym_env.last_action["force"].dtype == np.float32


def test_cartpole_by_id():
    env = GymMazeEnv("CartPole-v1")
    assert isinstance(env, MazeEnv)
    assert isinstance(env.env, gymnasium.Env) and env.gym_env is env.env
    assert env.action_space == spaces.Dict(action=spaces.Discrete(2))
    assert env.observation_space["observation"].shape == (4,)
    assert env.agent_counts_dict == {0: 1} and env.actor_id() == (0, 0)
    assert env.spec.id == "CartPole-v1"
    observation, info = env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step({"action": np.int64(1)})
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    assert env.get_env_time() == 1
    env.close()


def test_seeding_through_reset_and_seed():
    def trajectory(env, seed=None):
        observations = [env.reset(seed=seed)[0]["observation"]]
        for _ in range(5):
            observations.append(env.step({"action": np.ones(1, np.float32)})[0]["observation"])
        return np.stack(observations)

    env = GymMazeEnv("Pendulum-v1")
    first = trajectory(env, seed=5)
    np.testing.assert_array_equal(trajectory(GymMazeEnv("Pendulum-v1"), seed=5), first)
    env.seed(5)
    np.testing.assert_array_equal(trajectory(env), first)
    assert not np.array_equal(trajectory(env), first)  # the stored seed is used once


def test_render_mode():
    env = GymMazeEnv("CartPole-v1", render_mode="rgb_array")
    assert env.render_mode == "rgb_array" == env.env.render_mode
    with pytest.raises(ConfigurationError, match="gymnasium.make"):
        GymMazeEnv(gymnasium.make("CartPole-v1"), render_mode="rgb_array")


def test_unsupported_spaces_and_arguments_are_clear_errors():
    with pytest.raises(ConfigurationError, match="Tuple.*FlattenObservation"):
        GymMazeEnv(SpacesGymEnv(spaces.Tuple([spaces.Discrete(2)]), spaces.Discrete(2)))
    nested = spaces.Dict(inner=spaces.Dict(x=spaces.Discrete(2)))
    with pytest.raises(ConfigurationError, match="'inner' is a Dict space"):
        GymMazeEnv(SpacesGymEnv(nested, spaces.Discrete(2)))
    with pytest.raises(ConfigurationError, match="gymnasium.Env or a gymnasium id"):
        GymMazeEnv(42)

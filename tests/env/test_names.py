"""Env names: plugin-registered names first, then gymnasium ids; factories, not instances."""

import gymnasium
import pytest
from dummy_envs import DictEnv

from maze_core import hookimpl, plugins
from maze_core.env import GymMazeEnv, SequentialVectorEnv, check_env_factory, resolve_env
from maze_core.errors import ConfigurationError, UnknownNameError


class EnvPlugin:
    """An in-process plugin registering env factories."""

    def __init__(self, **targets):
        self.targets = targets

    @hookimpl
    def register_envs(self, register):
        for name, target in self.targets.items():
            register(name, target)


@pytest.fixture
def registered_envs():
    plugins.register(
        EnvPlugin(
            **{
                "dict-env": "dummy_envs:DictEnv",
                "gym-env": lambda: gymnasium.make("Pendulum-v1"),
                "CartPole-v1": "dummy_envs:DictEnv",  # a plugin name wins over the gymnasium id
            }
        ),
        name="test-env-names",
    )
    yield
    plugins.unregister("test-env-names")


def test_gymnasium_id():
    factory = resolve_env("CartPole-v1")
    env, other = factory(), factory()
    assert isinstance(env, GymMazeEnv) and env is not other
    assert env.spec.id == "CartPole-v1"
    assert "CartPole-v1" in repr(factory)


def test_registered_names_come_first_and_gymnasium_envs_get_wrapped(registered_envs):
    assert isinstance(resolve_env("dict-env")(), DictEnv)
    assert isinstance(resolve_env("CartPole-v1")(), DictEnv)
    env = resolve_env("gym-env")()
    assert isinstance(env, GymMazeEnv) and env.spec.id == "Pendulum-v1"
    SequentialVectorEnv([resolve_env("gym-env")] * 2).close()


def test_unknown_name_suggests_close_matches(registered_envs):
    with pytest.raises(UnknownNameError, match="Unknown env 'CartPole-v2'.*Did you mean 'CartPole-v1'"):
        resolve_env("CartPole-v2")
    with pytest.raises(UnknownNameError, match="Did you mean 'dict-env'"):
        resolve_env("dict_env")
    with pytest.raises(UnknownNameError, match="Did you mean 'CartPole-v1'"):
        resolve_env("cartpole-v1")
    with pytest.raises(UnknownNameError, match="neither registered by a plugin nor a gymnasium id"):
        resolve_env("zzzzzzzz")


def test_factories_pass_and_instances_are_rejected():
    assert isinstance(resolve_env(DictEnv)(), DictEnv)
    assert isinstance(resolve_env(lambda: gymnasium.make("CartPole-v1"))(), GymMazeEnv)
    for instance in (DictEnv(), GymMazeEnv("CartPole-v1"), gymnasium.make("CartPole-v1")):
        with pytest.raises(ConfigurationError, match="function that creates a new env"):
            resolve_env(instance)
    with pytest.raises(ConfigurationError, match="env name or a function"):
        check_env_factory(3)

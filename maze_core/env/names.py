"""Env names and factories: turn what the user passed as ``env`` into a zero-argument env factory."""

from __future__ import annotations

import difflib
from collections.abc import Callable

import gymnasium

from maze_core.env.gym_env import NAMESPACE_PACKAGES, GymIdFactory, register_namespace
from maze_core.env.structured_env import StructuredEnv
from maze_core.errors import ConfigurationError, UnknownNameError

EnvFactory = Callable[[], StructuredEnv]


def check_env_factory(factory, what: str = "env") -> EnvFactory:
    """Reject env instances and non-callables where a factory is needed, with what to do instead.

    A factory must create a *new* env on every call (vector envs call it once per sub-env,
    evaluation once more), so an env instance is refused, whether a Maze env or a gymnasium env.
    """
    if isinstance(factory, (StructuredEnv, gymnasium.Env)):
        raise ConfigurationError(
            f"{what} is an env instance ({type(factory).__name__}); pass a function that creates a new "
            f"env instead, e.g. `lambda: {type(factory).__name__}(...)` or the class itself (not "
            "`lambda: env`, which returns the same env every time). Every parallel env and the "
            "evaluation need their own env."
        )
    if not callable(factory):
        raise ConfigurationError(
            f"{what} must be an env name or a function that creates a new env, got {factory!r}."
        )
    return factory


def resolve_env(name_or_factory: str | EnvFactory) -> EnvFactory:
    """A zero-argument factory creating a Maze env, from a name or a factory.

    Names are looked up as plugin-registered env names first, then as gymnasium ids (wrapped in
    :class:`~maze_core.env.gym_env.GymMazeEnv`). A registered or given factory may return a
    gymnasium env; the returned factory wraps it. A :class:`~maze_core.env.native.VectorEnvFactory`
    is returned as it is. Unknown names raise :class:`UnknownNameError` with close matches.
    """
    from maze_core.env.native import VectorEnvFactory

    if isinstance(name_or_factory, VectorEnvFactory):
        return name_or_factory  # creates whole batches of envs (see maze_core.env.native)
    if not isinstance(name_or_factory, str):
        return _MazeEnvFactory(check_env_factory(name_or_factory))
    name = name_or_factory

    from maze_core import plugins

    registered = plugins.names("env")
    if plugins.provides("env", name):  # a registered name, bare or qualified (maze-x:corridor)
        return _MazeEnvFactory(plugins.load("env", name))
    if name in gymnasium.registry or register_namespace(name):
        check_dependencies(name)
        return GymIdFactory(name)

    candidates = [*registered, *gymnasium.registry]
    matches = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not matches:  # ids differ in case more often than in spelling ("cartpole-v1")
        by_lower = {candidate.lower(): candidate for candidate in candidates}
        matches = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=3)]
    suggestion = f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""
    namespace, _, _ = name.rpartition("/")
    if namespace in NAMESPACE_PACKAGES:
        _, package = NAMESPACE_PACKAGES[namespace]
        raise UnknownNameError(
            f"Unknown env {name!r}: {namespace}/ envs come from the package {package!r}, which is not "
            f"installed. Install it (pip install {package}) and try again."
        )
    raise UnknownNameError(
        f"Unknown env {name!r}: it is neither registered by a plugin nor a gymnasium id.{suggestion} "
        "Registered env names: `maze plugins list`; gymnasium ids: `gymnasium.pprint_registry()`. "
        f"You can also pass a function that creates the env.{plugins.unavailable_note()}"
    )


def check_dependencies(gym_id: str) -> None:
    """Import the module of the gymnasium id's env, so that a missing optional dependency (Box2D
    for ``LunarLander-v3``, MuJoCo for ``Ant-v5``) is one line with gymnasium's install hint, raised
    before a run directory exists, not a traceback from the first env built."""
    entry_point = gymnasium.spec(gym_id).entry_point
    if not isinstance(entry_point, str):
        return  # a callable: imported already
    try:
        gymnasium.envs.registration.load_env_creator(entry_point)
    except gymnasium.error.DependencyNotInstalled as error:
        raise ConfigurationError(f"Env {gym_id!r} needs an optional package: {error}") from None


class _MazeEnvFactory:
    """Calls a factory and wraps a gymnasium env it returns in GymMazeEnv (picklable)."""

    def __init__(self, factory: Callable):
        self.factory = factory

    def __call__(self) -> StructuredEnv:
        env = self.factory()
        if isinstance(env, gymnasium.Env):
            from maze_core.env.gym_env import GymMazeEnv

            env = GymMazeEnv(env)
        return env

    def __repr__(self) -> str:
        return f"<env factory {getattr(self.factory, '__qualname__', self.factory)!r}>"

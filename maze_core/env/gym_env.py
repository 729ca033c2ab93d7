"""GymMazeEnv: any gymnasium env as a Maze env (one step key, one agent, dict spaces)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from maze_core.env.outputs import EnvOutputError, numeric, reward_value
from maze_core.env.spaces import SUPPORTED_SPACES, check_dict_space, float32_space
from maze_core.env.structured_env import MazeEnv
from maze_core.errors import ConfigurationError


class GymMazeEnv(MazeEnv):
    """Wrap a gymnasium env (an instance, or an id for :func:`gymnasium.make`) as a :class:`MazeEnv`.

    Conversions, decided once from the gymnasium env's spaces:

    * A non-Dict observation space ``S`` becomes ``Dict(observation=S')`` and every observation
      ``{"observation": float32 array}``; ``S'`` is the float32 Box of ``S``'s values (same shape
      and bounds; e.g. ``MultiBinary(3)`` becomes ``Box(0, 1, shape=(3,), dtype=float32)``). A
      ``Discrete`` space stays as it is (int64 observations), so that the default networks can
      one-hot encode it.
    * A Dict observation space passes through, except that float64 Box entries become float32
      (space and values): networks run in float32 and a silent float64 would double memory.
    * A non-Dict action space ``A`` becomes ``Dict(action=A)``; a Dict action space passes through.
      Actions are handed to the gymnasium env as a numpy integer scalar of the space's dtype
      (Discrete, as its ``sample()`` returns them) or an array of the space's dtype.

    Supported spaces are Box, Discrete, MultiDiscrete and MultiBinary, at the top level or as
    entries of a flat Dict. Seeding goes through ``reset(seed=...)``; :meth:`seed` stores a seed
    for the next reset. The gymnasium env is available as :attr:`env` (alias :attr:`gym_env`).
    """

    _advances_env_time_itself = True  # one env step per step(), counted below (saves a wrapper call)

    def __init__(self, env: gymnasium.Env | str, render_mode: str | None = None):
        if isinstance(env, str):
            env = gymnasium.make(env, render_mode=render_mode)
        elif not isinstance(env, gymnasium.Env):
            raise ConfigurationError(
                f"GymMazeEnv needs a gymnasium.Env or a gymnasium id, got {type(env).__name__}. "
                "A Maze env does not need GymMazeEnv; write it as a MazeEnv subclass."
            )
        elif render_mode is not None and env.render_mode != render_mode:
            raise ConfigurationError(
                f"render_mode={render_mode!r} only applies when GymMazeEnv creates the env from an id; "
                f"this env instance was created with render_mode={env.render_mode!r}. Pass it to "
                "gymnasium.make(id, render_mode=...) instead."
            )
        self.env = env
        # conversions are decided once; plain data (no closures) keeps the env picklable
        self._conversion = GymConversion(env.observation_space, env.action_space, "GymMazeEnv")
        self._observation_space = self._conversion.observation_space
        self._action_space = self._conversion.action_space
        self._maze_observation = self._conversion.observation
        self._gym_action = self._conversion.gym_action

    @property
    def gym_env(self) -> gymnasium.Env:
        """The wrapped gymnasium env (same as :attr:`env`)."""
        return self.env

    @property
    def observation_spaces_dict(self) -> dict[int, spaces.Dict]:
        return {0: self._observation_space}

    @property
    def action_spaces_dict(self) -> dict[int, spaces.Dict]:
        return {0: self._action_space}

    @property
    def agent_counts_dict(self) -> dict[int, int]:
        return {0: 1}

    @property
    def observation_space(self) -> spaces.Dict:
        return self._observation_space

    @property
    def action_space(self) -> spaces.Dict:
        return self._action_space

    @property
    def render_mode(self) -> str | None:
        return self.env.render_mode

    @property
    def metadata(self) -> dict[str, Any]:
        return self.env.metadata

    @property
    def spec(self):
        return self.env.spec

    def reset(self, seed: int | None = None, options: dict | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        return self._maze_observation(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(self._gym_action(action))
        self._env_time += 1
        return (
            self._maze_observation(observation),
            reward_value(reward),
            bool(terminated),
            bool(truncated),
            info,
        )

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def __repr__(self) -> str:
        return f"GymMazeEnv({self.env})"


def _check_supported(space: spaces.Space, what: str) -> None:
    if not isinstance(space, (*SUPPORTED_SPACES, spaces.Dict)):
        raise ConfigurationError(
            f"GymMazeEnv does not support the {what} space {space!r}. Supported: Box, Discrete, "
            "MultiDiscrete, MultiBinary, or a flat Dict of them. Flatten it first, e.g. with "
            "gymnasium.wrappers.FlattenObservation."
        )


class GymConversion:
    """How gymnasium observations and actions map to Maze's dicts (see :class:`GymMazeEnv`), decided
    once from the spaces. The conversions work on one env's values and on the stacked values of a
    gymnasium vector env alike (``batched=True`` for actions), so a vector env converts all its envs
    with one numpy call per key."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, what: str):
        _check_supported(observation_space, "observation")
        _check_supported(action_space, "action")
        self._wrap_observation = not isinstance(observation_space, spaces.Dict)
        if self._wrap_observation:
            # a Discrete observation stays one (int64), so that the default networks one-hot encode it
            discrete = isinstance(observation_space, spaces.Discrete)
            self._observation_dtype = np.int64 if discrete else np.float32
            self.observation_space = spaces.Dict(
                observation=observation_space if discrete else float32_space(observation_space)
            )
            self._float64_keys: frozenset[str] = frozenset()
        else:
            check_dict_space(observation_space, f"{what} observation space")
            self._float64_keys = frozenset(
                key
                for key, sub in observation_space.spaces.items()
                if isinstance(sub, spaces.Box) and sub.dtype == np.float64
            )
            self.observation_space = spaces.Dict(
                {
                    key: float32_space(sub) if key in self._float64_keys else sub
                    for key, sub in observation_space.spaces.items()
                }
            )
        self._wrap_action = not isinstance(action_space, spaces.Dict)
        self.action_space = spaces.Dict(action=action_space) if self._wrap_action else action_space
        check_dict_space(self.action_space, f"{what} action space")
        # per action head: the scalar type of a Discrete head (a numpy scalar, as the space's own
        # sample() and gymnasium's vector envs hand it over: the space's contains() check, which
        # many envs assert on every step, is fastest for it), None for an array head
        self._action_scalars = {
            key: sub.dtype.type if isinstance(sub, spaces.Discrete) else None
            for key, sub in self.action_space.spaces.items()
        }
        self._action_dtypes = {key: sub.dtype for key, sub in self.action_space.spaces.items()}

    def observation(self, observation, batched: bool = False) -> dict[str, np.ndarray]:
        """A gymnasium observation (or, ``batched``, a stack of them) as a Maze observation dict; an
        observation that is not numbers is an :class:`~maze_core.env.outputs.EnvOutputError`."""
        if self._wrap_observation:
            return {
                "observation": numeric(
                    observation, "observation['observation']", self._observation_dtype, batched
                )
            }
        if not isinstance(observation, Mapping):
            raise EnvOutputError("observation", observation)
        float64_keys = self._float64_keys
        return {
            key: numeric(value, f"observation[{key!r}]", np.float32 if key in float64_keys else None, batched)
            for key, value in observation.items()
        }

    def gym_action(self, action, batched: bool = False):
        """A Maze action dict as gymnasium wants it: a numpy scalar (Discrete) or an array of the
        space's dtype; ``batched``: stacked actions of a vector env, arrays of the space's dtype."""
        scalars = {} if batched else self._action_scalars
        if self._wrap_action:
            return _gym_value(action["action"], scalars.get("action"), self._action_dtypes["action"])
        return {
            key: _gym_value(value, scalars.get(key), self._action_dtypes[key])
            for key, value in action.items()
        }

    def is_own_observation(self, observation) -> bool:
        """Whether an observation given to ``RunContext.compute_action`` is the gymnasium env's own
        (which gets the env's own action back) rather than Maze's dict form ``{"observation": ...}``
        (kept for compatibility). For a Dict observation space the two are one dict: the env's own."""
        return not (self._wrap_observation and isinstance(observation, Mapping))

    def policy_observation(self, observation) -> dict[str, np.ndarray]:
        """The env's own observation, one or a batch of them (leading dimensions), as Maze's dict;
        one that is neither is a ConfigurationError naming the shape the env's space has."""
        if not self._wrap_observation and not isinstance(observation, Mapping):
            raise ConfigurationError(
                f"the env's observations are dicts with keys {sorted(self.observation_space.spaces)}, "
                f"got {type(observation).__name__}"
            )
        try:
            converted = self.observation(observation)
        except EnvOutputError:
            raise ConfigurationError(
                f"the observation must be numbers (a numpy array), got {type(observation).__name__}"
            ) from None
        for key, space in self.observation_space.spaces.items():
            value = converted.get(key)
            shape = tuple(space.shape)
            if value is None or value.shape[value.ndim - len(shape) :] != shape:
                what = "the observation" if self._wrap_observation else f"observation[{key!r}]"
                got = "missing" if value is None else f"of shape {value.shape}"
                batch = "(" + ", ".join(["n", *map(str, shape)]) + ")"
                raise ConfigurationError(
                    f"{what} is {got}; the env's is of shape {shape}: give one, or a batch of shape {batch}"
                )
        return converted


def gym_conversion(env_factory) -> GymConversion | None:
    """How the envs of ``env_factory`` convert gymnasium values, from one probe env: the conversion
    of a GymMazeEnv or a native vector env, None for a Maze env (or one in Maze wrappers, which may
    change the spaces)."""
    env = env_factory()
    try:
        conversion = vars(env).get("_conversion")  # not getattr: a wrapper forwards it to its env
    finally:
        env.close()
    return conversion if isinstance(conversion, GymConversion) else None


def _gym_value(value, scalar, dtype):
    return np.asarray(value, dtype=dtype) if scalar is None else scalar(value)


#: gymnasium id namespaces registered by a separate package: namespace -> (module, pip package)
NAMESPACE_PACKAGES = {"ALE": ("ale_py", "ale-py")}


def register_namespace(name: str) -> bool:
    """Import the package whose envs have ``name``'s namespace (``ALE/...``: ale-py), so that they
    are registered with gymnasium; whether ``name`` is a gymnasium id now."""
    namespace, _, _ = name.rpartition("/")
    if namespace not in NAMESPACE_PACKAGES:
        return False
    module_name, _ = NAMESPACE_PACKAGES[namespace]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    gymnasium.register_envs(module)
    return name in gymnasium.registry


class GymIdFactory:
    """Creates ``GymMazeEnv(gym_id)`` (a class rather than a lambda, so it pickles and prints well)."""

    def __init__(self, gym_id: str):
        self.gym_id = gym_id

    def __call__(self) -> GymMazeEnv:
        if self.gym_id not in gymnasium.registry:  # in a worker process: an ALE/... id, say
            register_namespace(self.gym_id)
        return GymMazeEnv(self.gym_id)

    def __repr__(self) -> str:
        return f"<GymMazeEnv factory {self.gym_id!r}>"

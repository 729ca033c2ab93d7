"""Tiny MazeEnvs written directly against :class:`~maze_core.env.MazeEnv`, for tests.

All are deterministic given the reset seed, and their rewards depend on the actions, so a policy
can learn them:

* :class:`DictEnv` -- Dict observation with two keys of different shapes, Dict action with a
  Discrete and a Box head; episodes of ``episode_length`` steps.
* :class:`TwoStepEnv` -- two sub-steps (step keys 0 and 1, different spaces) per env step.
* :class:`MultiAgentEnv` -- one step key, two agents acting in turn within one env step.

:class:`SpacesGymEnv` is a *gymnasium* env with arbitrary spaces, for conversion tests;
:class:`ScriptedVectorEnv` a gymnasium *vector* env playing hand-written episodes in either
autoreset mode.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from maze_core.env import ActorID, MazeEnv


class DictEnv(MazeEnv):
    """Reward: +1 for choosing the index of the largest ``position`` entry, minus the squared
    distance of ``force`` to ``position[:2]``. Records the metric ``correct`` (0/1) every step."""

    def __init__(self, episode_length: int = 10):
        self.episode_length = episode_length
        self._obs_space = spaces.Dict(
            position=spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32),
            grid=spaces.Box(0.0, 1.0, shape=(2, 4), dtype=np.float32),
        )
        self._action_space = spaces.Dict(
            choice=spaces.Discrete(3),
            force=spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
        )
        self._steps = 0
        self._obs: dict[str, np.ndarray] = {}

    @property
    def observation_spaces_dict(self):
        return {0: self._obs_space}

    @property
    def action_spaces_dict(self):
        return {0: self._action_space}

    def _observe(self):
        self._obs = {
            "position": self.np_random.uniform(-1, 1, size=3).astype(np.float32),
            "grid": self.np_random.uniform(0, 1, size=(2, 4)).astype(np.float32),
        }
        return self._obs

    def reset(self, seed=None, options=None):
        self._steps = 0
        return self._observe(), {}

    def step(self, action):
        position = self._obs["position"]
        correct = float(int(action["choice"]) == int(np.argmax(position)))
        force = np.asarray(action["force"], dtype=np.float32)
        reward = correct - 0.1 * float(np.sum((force - position[:2]) ** 2))
        self.record_metric("correct", correct)
        self._steps += 1
        return self._observe(), reward, self._steps >= self.episode_length, False, {}


class TwoStepEnv(MazeEnv):
    """Sub-step 0 picks a side (reward +1 if ``pick == (value > 0)``); sub-step 1 sets an amount
    (reward ``-(amount - value)^2``). Env time advances after sub-step 1; an episode has
    ``n_env_steps`` env steps. Records the metric ``pick_correct`` once per env step."""

    def __init__(self, n_env_steps: int = 5):
        self.n_env_steps = n_env_steps
        self._obs_spaces = {
            0: spaces.Dict(value=spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)),
            1: spaces.Dict(
                value=spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32),
                picked=spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32),
            ),
        }
        self._action_spaces = {
            0: spaces.Dict(pick=spaces.Discrete(2)),
            1: spaces.Dict(amount=spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)),
        }
        self._sub_step = 0
        self._value = np.zeros(1, dtype=np.float32)

    @property
    def observation_spaces_dict(self):
        return self._obs_spaces

    @property
    def action_spaces_dict(self):
        return self._action_spaces

    def actor_id(self):
        return ActorID(self._sub_step, 0)

    def reset(self, seed=None, options=None):
        self._sub_step = 0
        self._value = self.np_random.uniform(-1, 1, size=1).astype(np.float32)
        return {"value": self._value}, {}

    def step(self, action):
        if self._sub_step == 0:
            pick = int(action["pick"])
            correct = float(pick == int(self._value[0] > 0))
            self.record_metric("pick_correct", correct)
            self._sub_step = 1
            picked = np.eye(2, dtype=np.float32)[pick]
            return {"value": self._value, "picked": picked}, correct, False, False, {}

        amount = float(np.asarray(action["amount"]).reshape(-1)[0])
        reward = -((amount - float(self._value[0])) ** 2)
        self.advance_env_time()
        self._sub_step = 0
        self._value = self.np_random.uniform(-1, 1, size=1).astype(np.float32)
        terminated = self.get_env_time() >= self.n_env_steps
        return {"value": self._value}, reward, terminated, False, {}


class MultiAgentEnv(MazeEnv):
    """Two agents act in turn (agent 0, then agent 1) in one env step; each gets +1 for choosing
    ``move == 1`` when its entry of ``state`` is positive, else for ``move == 0``. An episode has
    ``n_env_steps`` env steps (``2 * n_env_steps`` agent steps)."""

    def __init__(self, n_env_steps: int = 5):
        self.n_env_steps = n_env_steps
        self._obs_space = spaces.Dict(state=spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32))
        self._action_space = spaces.Dict(move=spaces.Discrete(2))
        self._agent = 0
        self._state = np.zeros(2, dtype=np.float32)

    @property
    def agent_counts_dict(self):
        return {0: 2}

    @property
    def observation_spaces_dict(self):
        return {0: self._obs_space}

    @property
    def action_spaces_dict(self):
        return {0: self._action_space}

    def actor_id(self):
        return ActorID(0, self._agent)

    def reset(self, seed=None, options=None):
        self._agent = 0
        self._state = self.np_random.uniform(-1, 1, size=2).astype(np.float32)
        return {"state": self._state}, {}

    def step(self, action):
        reward = float(int(action["move"]) == int(self._state[self._agent] > 0))
        terminated = False
        if self._agent == 0:
            self._agent = 1
        else:
            self._agent = 0
            self.advance_env_time()
            self._state = self.np_random.uniform(-1, 1, size=2).astype(np.float32)
            terminated = self.get_env_time() >= self.n_env_steps
        return {"state": self._state}, reward, terminated, False, {}


class SpacesGymEnv(gymnasium.Env):
    """A tiny *gymnasium* env with the given spaces, for conversion tests: observations are samples
    of ``observation_space`` (seeded by ``reset``), the reward is the sum of the flattened action,
    and episodes last ``episode_length`` steps. The last action is kept in ``last_action``."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, episode_length: int = 5):
        self.observation_space = observation_space
        self.action_space = action_space
        self.episode_length = episode_length
        self.last_action = None
        self._steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.observation_space.seed(seed)
        self._steps = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} not in {self.action_space}"
        self.last_action = action
        self._steps += 1
        reward = float(np.sum(spaces.flatten(self.action_space, action)))
        return self.observation_space.sample(), reward, False, self._steps >= self.episode_length, {}


#: the structured envs by the names tests parametrize over
STRUCTURED_ENVS = {"dict": DictEnv, "two_step": TwoStepEnv, "multi_agent": MultiAgentEnv}


# per env, its episodes: the observations (reset observation first, final observation last; the
# value V(s) = s) and how the episode ends; every step has reward 1
SCRIPT = [
    [([1, 2, 3], "truncated"), ([10, 11, 12, 13, 14, 15], "terminated")],
    [([5, 6, 7, 8], "terminated"), ([30, 31, 32, 33, 34], "terminated")],
]


class ScriptedVectorEnv(gymnasium.vector.VectorEnv):
    """Plays SCRIPT in either autoreset mode, as gymnasium's vector envs do."""

    def __init__(self, mode: AutoresetMode, script=SCRIPT):
        self.metadata = {"autoreset_mode": mode}
        self.script = script
        self.num_envs = len(script)
        self.single_observation_space = spaces.Dict({"v": spaces.Box(-100, 100, (1,), np.float32)})
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.actions = []

    def _obs(self, values):
        return {"v": np.array(values, dtype=np.float32).reshape(-1, 1)}

    def reset(self, seed=None, options=None):
        self.episode = [0] * self.num_envs
        self.t = [0] * self.num_envs
        self.pending_reset = [False] * self.num_envs
        return self._obs([self._value(i) for i in range(self.num_envs)]), {}

    def _value(self, i):
        return self.script[i][self.episode[i]][0][self.t[i]]

    def step(self, actions):
        self.actions.append(np.array(actions))
        n = self.num_envs
        rewards, terminated, truncated = np.ones(n, np.float32), np.zeros(n, bool), np.zeros(n, bool)
        final = np.full(n, None, dtype=object)
        for i in range(n):
            if self.pending_reset[i]:  # next-step autoreset: this step only resets
                self.episode[i], self.t[i], self.pending_reset[i] = self.episode[i] + 1, 0, False
                rewards[i] = 0.0
                continue
            self.t[i] += 1
            observations, end = self.script[i][self.episode[i]]
            if self.t[i] == len(observations) - 1:
                terminated[i], truncated[i] = end == "terminated", end == "truncated"
                if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
                    final[i] = self._obs([self._value(i)])["v"][0]
                    final[i] = {"v": final[i]}
                    self.episode[i], self.t[i] = self.episode[i] + 1, 0
                else:
                    self.pending_reset[i] = True
        info = {}
        if any(f is not None for f in final):
            info = {"final_obs": final, "_final_obs": final != None}  # noqa: E711
        return self._obs([self._value(i) for i in range(n)]), rewards, terminated, truncated, info

"""What tests/safety share: CLI settings for tiny runs, a check for one-line errors, and small
gymnasium envs that misbehave on purpose (in a module of its own, so that worker processes of the
local runner can import them)."""

from __future__ import annotations

import os
import time

import gymnasium
import numpy as np
from gymnasium import spaces

from maze_core.env.wrappers import Wrapper

#: one epoch of a few steps: enough to write every file of a run
QUICK = [
    *("--set", "algorithm.epoch_length=2"),
    *("--set", "algorithm.n_rollout_steps=4"),
    *("--set", "runner.n_envs=1"),
    *("--set", "runner.eval_episodes=1"),
]
QUICK_OVERRIDES = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 4,
    "runner.n_envs": 1,
    "runner.eval_episodes": 1,
}


def cli(*args):
    """``maze <args>`` in this process (quicker than a subprocess; the same code path)."""
    from typer.testing import CliRunner

    from maze_core.cli import app

    return CliRunner().invoke(app, [str(arg) for arg in args])


def one_line_error(result, *fragments: str) -> str:
    """Assert that a CLI call (a subprocess or :func:`cli`) failed with exit code 1 and one
    ``Error: ...`` line holding ``fragments``."""
    output = result.stdout + result.stderr
    code = result.returncode if hasattr(result, "returncode") else result.exit_code
    assert code == 1, output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


class TinyEnv(gymnasium.Env):
    """Episodes of ``episode_length`` steps with zero observations and reward 1 per step."""

    observation_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, episode_length: int = 3):
        self.episode_length = episode_length
        self.steps = 0  # in this env's life, over all episodes
        self.t = 0

    def observation(self):
        return np.zeros(4, dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation(), {}

    def step(self, action):
        self.steps += 1
        self.t += 1
        return self.observation(), 1.0, self.t >= self.episode_length, False, {}


class HangingEnv(TinyEnv):
    """Never returns from its step after ``hang_after`` steps."""

    def __init__(self, hang_after: int = 10):
        super().__init__()
        self.hang_after = hang_after

    def step(self, action):
        if self.steps >= self.hang_after:
            time.sleep(3600)
        return super().step(action)


class DyingEnv(TinyEnv):
    """Its process exits (as after a crash in C code) after ``die_after`` steps."""

    def __init__(self, die_after: int = 10):
        super().__init__()
        self.die_after = die_after

    def step(self, action):
        if self.steps >= self.die_after:
            os._exit(3)
        return super().step(action)


class WrongShapeEnv(TinyEnv):
    """Says its observations have shape (4,) but returns shape (5,)."""

    def observation(self):
        return np.zeros(5, dtype=np.float32)


class ImprovingEnv(TinyEnv):
    """Every episode returns more than the one before (in this process), so every epoch's evaluation
    finds a new best model and writes state_dict.pt."""

    episodes = 0

    def __init__(self):
        super().__init__(episode_length=1)

    def reset(self, *, seed=None, options=None):
        type(self).episodes += 1
        return super().reset(seed=seed, options=options)

    def step(self, action):
        observation, _, terminated, truncated, info = super().step(action)
        return observation, float(type(self).episodes), terminated, truncated, info


class StringObservationEnv(TinyEnv):
    """Returns a string as its observation from its first step on."""

    def step(self, action):
        _, reward, terminated, truncated, info = super().step(action)
        return "hello", reward, terminated, truncated, info


class NoneObservationEnv(TinyEnv):
    """Returns None as its observation from its first step on."""

    def step(self, action):
        _, reward, terminated, truncated, info = super().step(action)
        return None, reward, terminated, truncated, info


class StringRewardEnv(TinyEnv):
    """Returns a string as its reward."""

    def step(self, action):
        observation, _, terminated, truncated, info = super().step(action)
        return observation, "one", terminated, truncated, info


class NoneObservationWrapper(Wrapper):
    """A Maze wrapper (so that vector envs step it on their per-env path, not the batched path of
    plain gymnasium envs) whose observation is None (not a dict) from its first step on."""

    def step(self, action):
        _, reward, terminated, truncated, info = self.env.step(action)
        return None, reward, terminated, truncated, info

"""An env whose step costs about 1 ms of CPU time (benchmark B4): CartPole plus a busy loop.

The busy loop counts CPU time of the calling thread, not wall time, so on a loaded machine each
step still does 1 ms of work rather than waiting 1 ms.
"""

from __future__ import annotations

import time

import gymnasium

STEP_CPU_SECONDS = 1e-3


class BusyWrapper(gymnasium.Wrapper):
    """Burns ``cpu_seconds`` of CPU time in every ``step`` (as a simulator would)."""

    def __init__(self, env: gymnasium.Env, cpu_seconds: float = STEP_CPU_SECONDS):
        super().__init__(env)
        self.cpu_seconds = cpu_seconds

    def step(self, action):
        end = time.thread_time() + self.cpu_seconds
        while time.thread_time() < end:
            pass
        return self.env.step(action)


def make_busy_cartpole():
    """The env factory of B4 (importable, so that worker processes can build it)."""
    from maze_core.env import GymMazeEnv

    return GymMazeEnv(BusyWrapper(gymnasium.make("CartPole-v1")))

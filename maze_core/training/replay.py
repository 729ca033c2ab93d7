"""The replay buffer of off-policy algorithms: transitions from rollouts, sampled uniformly.

A transition is stored with the observation that followed it, as the collector found it with
``next_observations``: the next step's observation, or a truncated episode's true final
observation (so it bootstraps from the right state), while a terminated one is flagged and never
bootstraps. Rollouts hold no step that crosses an episode boundary and no next-step env's
reset-only step, so neither ever reaches the buffer. Storage is preallocated torch tensors on the
CPU, one row per transition whatever the number of envs; its memory need is checked before
anything is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from maze_core.errors import ConfigurationError
from maze_core.training.batches import Rollout
from maze_core.training.memory import available_memory, numpy_dtype


@dataclass
class ReplayBatch:
    """``B`` transitions sampled from a :class:`ReplayBuffer`, each tensor ``(B, ...)``."""

    observations: dict[str, torch.Tensor]
    actions: dict[str, torch.Tensor]
    rewards: torch.Tensor  # float32
    next_observations: dict[str, torch.Tensor]
    #: float32, 1.0 where the episode terminated with the transition: its target does not bootstrap
    terminated: torch.Tensor

    @property
    def batch_size(self) -> int:
        return len(self.rewards)


class ReplayBuffer:
    """A ring buffer of ``capacity`` transitions of one actor (observation and action spaces are
    that actor's Dicts); the oldest are overwritten once it is full."""

    def __init__(self, observation_space: gym.spaces.Dict, action_space: gym.spaces.Dict, capacity: int):
        check_replay_memory(observation_space, action_space, capacity)
        self.capacity = capacity
        self.position = 0  # where the next transition goes
        self.size = 0

        def storage(space: gym.spaces.Dict) -> dict[str, torch.Tensor]:
            return {
                key: torch.from_numpy(np.zeros((capacity, *sub.shape), dtype=numpy_dtype(sub)))
                for key, sub in space.spaces.items()
            }

        self.observations = storage(observation_space)
        self.next_observations = storage(observation_space)
        self.actions = storage(action_space)
        self.rewards = torch.zeros(capacity, dtype=torch.float32)
        self.terminated = torch.zeros(capacity, dtype=torch.float32)

    def __len__(self) -> int:
        return self.size

    def add(self, rollout: Rollout) -> int:
        """Store the rollout's transitions (collected with ``next_observations``); returns how many."""
        (transitions,) = rollout.actors.values()
        if transitions.next_observations is None:
            raise ValueError("a replay buffer needs a rollout collected with next_observations=True")
        keep = None if rollout.valid is None else rollout.valid.reshape(-1).cpu()

        def flat(tensor: torch.Tensor) -> torch.Tensor:
            tensor = tensor.detach().cpu().reshape(-1, *tensor.shape[2:])
            return tensor if keep is None else tensor[keep]

        columns = [
            (self.observations, {key: flat(value) for key, value in transitions.observations.items()}),
            (self.next_observations, {k: flat(v) for k, v in transitions.next_observations.items()}),
            (self.actions, {key: flat(value) for key, value in transitions.actions.items()}),
            ({"rewards": self.rewards}, {"rewards": flat(rollout.rewards)}),
            ({"terminated": self.terminated}, {"terminated": flat(rollout.terminated).float()}),
        ]
        count = len(columns[3][1]["rewards"])
        first = max(count - self.capacity, 0)  # more than fit: the newest win
        slots = (self.position + torch.arange(count - first)) % self.capacity
        for storage, values in columns:
            for key, value in values.items():
                storage[key][slots] = value[first:].to(storage[key].dtype)
        self.position = int((self.position + count - first) % self.capacity)
        self.size = min(self.size + count - first, self.capacity)
        return count

    def sample(
        self, batch_size: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement, on ``device``. Draws from
        ``generator``, or from torch's global RNG (seeded by the run and kept in checkpoints)."""
        if self.size == 0:
            raise ValueError("the replay buffer is empty: collect before sampling (learning_starts)")
        index = torch.randint(self.size, (batch_size,), generator=generator)
        take = lambda tensors: {k: v.index_select(0, index).to(device) for k, v in tensors.items()}  # noqa: E731
        return ReplayBatch(
            observations=take(self.observations),
            actions=take(self.actions),
            rewards=self.rewards.index_select(0, index).to(device),
            next_observations=take(self.next_observations),
            terminated=self.terminated.index_select(0, index).to(device),
        )

    def state_dict(self) -> dict:
        """The stored transitions and the write position (tensors and ints: loadable with
        ``weights_only``)."""
        size = self.size
        stored = lambda tensors: {key: value[:size].clone() for key, value in tensors.items()}  # noqa: E731
        return {
            "capacity": self.capacity,
            "position": self.position,
            "size": size,
            "observations": stored(self.observations),
            "next_observations": stored(self.next_observations),
            "actions": stored(self.actions),
            "rewards": self.rewards[:size].clone(),
            "terminated": self.terminated[:size].clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ConfigurationError(
                f"the saved replay buffer holds up to {state['capacity']} transitions, but "
                f"algorithm.buffer_size is {self.capacity}: restore the run's buffer_size to resume it"
            )
        size = state["size"]
        for name in ("observations", "next_observations", "actions"):
            for key, value in getattr(self, name).items():
                value[:size] = state[name][key]
        self.rewards[:size] = state["rewards"]
        self.terminated[:size] = state["terminated"]
        self.position, self.size = int(state["position"]), int(size)


def replay_bytes(observation_space: gym.spaces.Dict, action_space: gym.spaces.Dict, capacity: int) -> int:
    """The memory a buffer of ``capacity`` transitions holds (observations twice, actions, reward,
    termination flag)."""

    def nbytes(space: gym.spaces.Dict) -> int:
        return sum(
            numpy_dtype(sub).itemsize * int(np.prod(sub.shape, dtype=np.int64))
            for sub in space.spaces.values()
        )

    return capacity * (2 * nbytes(observation_space) + nbytes(action_space) + 8)


def check_replay_memory(
    observation_space: gym.spaces.Dict, action_space: gym.spaces.Dict, capacity: int
) -> None:
    """Refuse, before allocating, a buffer that would not fit in the available memory."""
    needed, available = replay_bytes(observation_space, action_space, capacity), available_memory()
    if available is not None and needed > available:
        raise ConfigurationError(
            f"a replay buffer of algorithm.buffer_size={capacity:,} transitions needs about "
            f"{needed / 2**30:.1f} GiB of memory, but only {available / 2**30:.1f} GiB are available; "
            "lower algorithm.buffer_size"
        )

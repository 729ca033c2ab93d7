"""The collector's storage: preallocated numpy buffers for each actor's observations, actions and
latents, and the per-step records of a rollout, handed to the policy as zero-copy torch views."""

from __future__ import annotations

import numpy as np
import torch

from maze_core.errors import EnvWorkerError
from maze_core.training.batches import ActorTransitions
from maze_core.training.memory import numpy_dtype


class ActorBuffer:
    """Preallocated numpy storage for one actor's observations, actions and latents."""

    def __init__(self, observation_space, action_space, capacity: int, n_envs: int):
        self.capacity, self.n_envs = capacity, n_envs
        self.observations = {
            key: np.zeros((capacity, n_envs, *space.shape), dtype=numpy_dtype(space))
            for key, space in observation_space.spaces.items()
        }
        self.actions = {
            key: np.zeros((capacity, n_envs, *space.shape), dtype=numpy_dtype(space))
            for key, space in action_space.spaces.items()
        }
        self.latents: dict[str, np.ndarray] = {}  # allocated on the first latent of a head
        self._make_views()
        self.rows: list[int] = []

    def arrays(self) -> list[np.ndarray]:
        return [*self.observations.values(), *self.actions.values(), *self.latents.values()]

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` steps, keeping what is stored."""
        for part in (self.observations, self.actions, self.latents):
            for key, buf in part.items():
                part[key] = np.zeros((capacity, *buf.shape[1:]), dtype=buf.dtype)
                part[key][: len(buf)] = buf
        self.capacity = capacity
        self._make_views()

    def _make_views(self) -> None:
        # torch views sharing memory with the numpy buffers: handed to the policy without copies;
        # one view per row, made here once (indexing a tensor costs microseconds, on every step)
        self.observation_views = {key: torch.from_numpy(buf) for key, buf in self.observations.items()}
        self._row_views = [
            {key: view[index] for key, view in self.observation_views.items()}
            for index in range(self.capacity)
        ]

    def store_observation(self, observation: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        index = len(self.rows)
        for key, buf in self.observations.items():
            try:
                buf[index] = observation[key]
            except (KeyError, ValueError, TypeError) as error:
                raise observation_error(key, buf.shape[1:], observation, error) from None
        return dict(self._row_views[index])  # a new dict: the policy may do what it likes with it

    def store_action(self, action: dict[str, np.ndarray], latents: dict[str, np.ndarray]) -> None:
        index = len(self.rows)
        for key, buf in self.actions.items():
            buf[index] = action[key]
        for key, latent in latents.items():
            if key not in self.latents:
                self.latents[key] = np.zeros((self.capacity, *latent.shape), dtype=latent.dtype)
            self.latents[key][index] = latent

    def to_transitions(self, device: torch.device) -> ActorTransitions:
        count = len(self.rows)
        to_device = lambda arrays: {k: torch.from_numpy(v[:count]).to(device) for k, v in arrays.items()}  # noqa: E731
        return ActorTransitions(
            rows=torch.as_tensor(self.rows, dtype=torch.long, device=device),
            observations=to_device(self.observations),
            actions=to_device(self.actions),
            latents=to_device(self.latents),
        )


def observation_error(key: str, shape: tuple, observation, error: Exception) -> EnvWorkerError:
    if not isinstance(observation, dict) or key not in observation:
        got = f"keys {sorted(observation)}" if isinstance(observation, dict) else type(observation).__name__
        detail = f"has no observation {key!r} (it returned {got})"
    else:
        detail = f"returned observation {key!r} of shape {np.shape(observation[key])[1:]}"
    return EnvWorkerError(
        f"a training env {detail}, but its observation space says shape {shape[1:]}: make the env's "
        "observations match its observation space"
    )


class StepRecords:
    """Per-step records of the collector's raw steps ``(rows, n_envs)``."""

    def __init__(self, capacity: int, n_envs: int):
        self.rewards = np.zeros((capacity, n_envs), dtype=np.float32)
        self.terminated = np.zeros((capacity, n_envs), dtype=bool)
        self.truncated = np.zeros((capacity, n_envs), dtype=bool)
        self.env_step_ends = np.ones((capacity, n_envs), dtype=bool)
        self.log_probs = np.zeros((capacity, n_envs), dtype=np.float32)
        #: a transition of some episode (False: a next-step env's reset-only step)
        self.transition = np.zeros((capacity, n_envs), dtype=bool)
        #: a recurrent model's memory was reset before this step (an episode started)
        self.episode_starts = np.zeros((capacity, n_envs), dtype=bool)

    def arrays(self) -> dict[str, np.ndarray]:
        return vars(self)

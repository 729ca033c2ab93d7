"""Rollout collection into preallocated buffers.

A rollout is ``T`` transitions (sub-steps) on each of ``N`` envs. Transitions are grouped by the
actor that took them (step key and agent), because each actor has its own observation and action
spaces and possibly its own network; in a plain single-agent env there is one group and every
tensor is simply ``(T, N, ...)``.

Per step the collector copies the observation into a numpy buffer, asks the policy for an action
on a zero-copy torch view of it, and steps the vector env; everything else (moving to the training
device, computing values) happens once per rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from maze_core.env.structured_env import ActorID


@dataclass
class ActorTransitions:
    """The transitions of one actor inside a rollout."""

    rows: torch.Tensor  # (T_actor,) indices into the rollout's time axis
    observations: dict[str, torch.Tensor]  # (T_actor, N, ...)
    actions: dict[str, torch.Tensor]  # (T_actor, N, ...)


@dataclass
class Rollout:
    """One rollout on the training device. Rewards and flags are ``(T, N)``."""

    actors: dict[ActorID, ActorTransitions]
    actor_ids: list[ActorID]  # actor of each time index
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    env_step_ends: torch.Tensor  # the transition completed an env step (always true without sub-steps)
    next_observation: dict[str, torch.Tensor]  # (N, ...) observation after the rollout
    next_actor_id: ActorID
    # truncated episodes bootstrap from their final observation: (t, env index, observation)
    final_observations: list[tuple[int, int, dict[str, torch.Tensor]]] = field(default_factory=list)
    # (T, N), False where a next-step autoreset env only reset itself (not trained on); None: all valid
    valid: torch.Tensor | None = None

    def valid_only(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The ``(T, N)`` tensors as they are, or only their valid transitions (flattened)."""
        if self.valid is None:
            return tensors
        return tuple(tensor[self.valid] for tensor in tensors)

    @property
    def n_steps(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_envs(self) -> int:
        return self.rewards.shape[1]


class _ActorBuffer:
    """Preallocated numpy storage for one actor's observations and actions."""

    def __init__(self, observation_space, action_space, capacity: int, n_envs: int):
        self.observations = {
            key: np.zeros((capacity, n_envs, *space.shape), dtype=_dtype(space))
            for key, space in observation_space.spaces.items()
        }
        self.actions = {
            key: np.zeros((capacity, n_envs, *space.shape), dtype=_dtype(space))
            for key, space in action_space.spaces.items()
        }
        # torch views sharing memory with the numpy buffers: handed to the policy without copies;
        # one view per row, made here once (indexing a tensor costs microseconds, on every step)
        self.observation_views = {key: torch.from_numpy(buf) for key, buf in self.observations.items()}
        self._row_views = [
            {key: view[index] for key, view in self.observation_views.items()} for index in range(capacity)
        ]
        self.rows: list[int] = []

    def store_observation(self, observation: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        index = len(self.rows)
        for key, buf in self.observations.items():
            buf[index] = observation[key]
        return dict(self._row_views[index])  # a new dict: the policy may do what it likes with it

    def store_action(self, action: dict[str, np.ndarray]) -> None:
        index = len(self.rows)
        for key, buf in self.actions.items():
            buf[index] = action[key]

    def to_transitions(self, device: torch.device) -> ActorTransitions:
        count = len(self.rows)
        return ActorTransitions(
            rows=torch.as_tensor(self.rows, dtype=torch.long, device=device),
            observations={k: torch.from_numpy(v[:count]).to(device) for k, v in self.observations.items()},
            actions={k: torch.from_numpy(v[:count]).to(device) for k, v in self.actions.items()},
        )


def _dtype(space) -> np.dtype:
    dtype = np.dtype(space.dtype) if space.dtype is not None else np.dtype(np.float32)
    return np.dtype(np.float32) if dtype == np.float64 else dtype


class VectorEnvCollector:
    """Collects rollouts from a vector env in this process; episodes continue across rollouts.

    This is the rollout source of the dev and local runners. A distributed runner provides the same
    interface (``collect``, ``epoch_stats``, ``close``) with workers that step their envs with a
    copy of the policy and ship the transitions back.
    """

    def __init__(self, env, device: torch.device | str = "cpu", seed: int | None = None):
        self.env = env
        self.device = torch.device(device)
        self.seed = seed
        counts = env.agent_counts_dict
        self.single_actor = len(counts) == 1 and next(iter(counts.values())) == 1
        self._buffers: dict[ActorID, _ActorBuffer] = {}
        self._capacity = 0
        self._observation = None
        # next-step autoreset (native vector envs): the step after an episode end only resets the env
        self.next_step_autoreset = getattr(env, "autoreset_mode", "same_step") == "next_step"

    def collect(self, policy, n_steps: int) -> Rollout:
        env, n = self.env, self.env.n_envs
        if self._observation is None:
            self._observation, _ = env.reset(seed=self.seed)
        if n_steps > self._capacity:
            self._buffers.clear()
            self._capacity = n_steps
        for buffer in self._buffers.values():
            buffer.rows.clear()
        rewards = np.zeros((n_steps, n), dtype=np.float32)
        terminated = np.zeros((n_steps, n), dtype=bool)
        truncated = np.zeros((n_steps, n), dtype=bool)
        env_step_ends = np.ones((n_steps, n), dtype=bool)
        valid = np.ones((n_steps, n), dtype=bool) if self.next_step_autoreset else None
        actor_ids: list[ActorID] = []
        final_observations = []
        observation = self._observation
        actor = ActorID(*env.actor_id())
        with torch.inference_mode():
            for t in range(n_steps):
                buffer = self._buffer_for(actor)
                policy_input = buffer.store_observation(observation)
                action = policy.compute_action(policy_input, actor_id=actor, deterministic=False)
                buffer.store_action(action)
                buffer.rows.append(t)
                actor_ids.append(actor)
                time_before = None if self.single_actor else env.get_env_time()
                observation, rewards[t], terminated[t], truncated[t], infos = env.step(action)
                if not self.single_actor:
                    actor = ActorID(*env.actor_id())
                    env_step_ends[t] = (env.get_env_time() != time_before) | terminated[t] | truncated[t]
                if valid is not None:
                    valid[t] = ~env.reset_steps()
                elif truncated[t].any():
                    for i in np.flatnonzero(truncated[t] & ~terminated[t]):
                        final = infos[i]["final_observation"]
                        final_observations.append(
                            (
                                t,
                                int(i),
                                {k: torch.as_tensor(np.asarray(v)).to(self.device) for k, v in final.items()},
                            )
                        )
        self._observation = observation
        return Rollout(
            actors={
                actor_id: buf.to_transitions(self.device)
                for actor_id, buf in self._buffers.items()
                if buf.rows
            },
            actor_ids=actor_ids,
            rewards=torch.from_numpy(rewards).to(self.device),
            terminated=torch.from_numpy(terminated).to(self.device),
            truncated=torch.from_numpy(truncated).to(self.device),
            env_step_ends=torch.from_numpy(env_step_ends).to(self.device),
            next_observation={
                k: torch.as_tensor(np.array(v)).to(self.device) for k, v in observation.items()
            },
            next_actor_id=actor,
            final_observations=final_observations,
            valid=None if valid is None else torch.from_numpy(valid).to(self.device),
        )

    def _buffer_for(self, actor: ActorID) -> _ActorBuffer:
        buffer = self._buffers.get(actor)
        if buffer is None:
            env = self.env
            buffer = _ActorBuffer(
                env.observation_spaces_dict[actor.step_key],
                env.action_spaces_dict[actor.step_key],
                self._capacity,
                env.n_envs,
            )
            self._buffers[actor] = buffer
        return buffer

    def state_dict(self) -> dict:
        """What a checkpoint needs from the envs: the normalization statistics, if any."""
        normalization = getattr(self.env, "normalization", None)
        return {} if normalization is None else {"normalization": normalization.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "normalization" in state:
            self.env.normalization.load_state_dict(state["normalization"])

    def epoch_stats(self) -> dict[str, float]:
        """Statistics of the training episodes finished since the last call."""
        return self.env.write_epoch_stats()

    def close(self) -> None:
        self.env.close()

"""Rollouts of recurrent models as sequences: each env's transitions (per actor) split at episode
starts, padded into ``(L, K)`` batches of ``K`` sequences, each starting from the state it started
from while acting (the one carried into the rollout, or zeros at an episode start).

Splitting at episode starts (instead of resetting the state inside a sequence) is what lets one
call of the recurrent cell run all steps of all sequences: torch's LSTM and GRU cannot reset
their state mid-sequence, and a Python loop over the steps is what makes other libraries' recurrent
PPO several times slower than their feed-forward one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maze_core.agent.memory import RecurrentMemory


@dataclass
class SequenceLayout:
    """``K`` sequences of up to ``L`` steps of one actor: which of its transitions each step is."""

    rows: torch.Tensor  #: (L, K) the actor's transition row of each step (row 0 on padding)
    envs: torch.Tensor  #: (K,) the env of each sequence
    lengths: torch.Tensor  #: (K,) on the CPU: the real steps of each sequence
    #: (K,) whether the sequence continues from the state carried into the rollout (the first
    #: sequence of each env, unless its episode starts with it); the others start from zeros
    carried: torch.Tensor
    #: (T_actor, E) the sequence of each transition of the envs laid out, in their order
    sequence_of: torch.Tensor

    @property
    def valid(self) -> torch.Tensor:
        """(L, K): the real steps (False on padding)."""
        steps = torch.arange(self.rows.shape[0], device=self.rows.device)
        return steps[:, None] < self.lengths.to(self.rows.device)

    def padded(self, tensor: torch.Tensor) -> torch.Tensor:
        """The actor's ``(T_actor, N, ...)`` values as ``(L, K, ...)`` (padding repeats a real value)."""
        return tensor[self.rows, self.envs[None, :]]

    def initial_states(self, carried: torch.Tensor | None) -> torch.Tensor | None:
        """``(K, S)``: ``carried`` ``(N, S)`` (the states carried into the rollout) for the sequences
        that continue them, zeros for those that start an episode; None without ``carried``."""
        if carried is None:
            return None
        return carried[self.envs] * self.carried[:, None].to(carried.dtype)


def actor_starts(episode_starts: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``(T_actor, N)``: whether an episode started on the env since the actor's previous transition
    (up to and including the transition's own row): then its state was reset before it acted.
    ``episode_starts`` ``(T, N)`` marks the rows before which the collector reset the memory,
    ``rows`` the actor's rows (all rows for a single-actor env)."""
    resets = episode_starts.long().cumsum(0)[rows]
    previous = torch.cat((torch.zeros_like(resets[:1]), resets[:-1]))
    return resets > previous


def layout(starts: torch.Tensor, envs: torch.Tensor) -> SequenceLayout:
    """The sequences of the columns ``envs`` of an actor's ``(T_actor, N)`` transitions, split
    where ``starts`` (:func:`actor_starts`) is true, env by env in the order of ``envs``."""
    device = starts.device
    n_rows, n_envs = starts.shape[0], len(envs)
    begins = starts[:, envs].T.contiguous()  # (E, T): env-major, so that each sequence is contiguous
    starts_episode = begins[:, 0].clone()
    begins[:, 0] = True
    sequence = begins.reshape(-1).long().cumsum(0) - 1  # sequence of each (env, row)
    n_sequences = int(sequence[-1]) + 1
    lengths = torch.bincount(sequence, minlength=n_sequences)
    first = lengths.cumsum(0) - lengths  # each sequence's first (env, row)
    step = torch.arange(n_rows * n_envs, device=device) - first[sequence]
    rows = torch.zeros((int(lengths.max()), n_sequences), dtype=torch.long, device=device)
    rows[step, sequence] = torch.arange(n_rows, device=device).repeat(n_envs)
    column = first // n_rows
    return SequenceLayout(
        rows=rows,
        envs=envs[column],
        lengths=lengths.cpu(),
        carried=(first % n_rows == 0) & ~starts_episode[column],
        sequence_of=sequence.reshape(n_envs, n_rows).T,
    )


@torch.no_grad()
def recurrent_critic_values(critic, actors, episode_starts, ending, bootstrap_observations, carried, device):
    """What :func:`~maze_core.training.rollout._critic_values` computes, for a recurrent critic:
    ``(values, next_values, carried)``.

    Each actor's transitions are valued as sequences from ``carried`` (``{actor: (N, S)}``, the
    critic's states carried into the rollout). An observation after a transition that is not the
    next one's (after the rollout, a truncated episode's final one) is valued from the state after
    its actor's last transition in that episode (zeros if it had none). Returns the states to
    carry into the next rollout, zeros for envs whose episode starts there (``ending``, ``(N,)``).
    The first group of ``bootstrap_observations`` is the observations after the rollout, which
    belong to the next episode on the envs ``ending``.
    """
    n_steps, n_envs = episode_starts.shape
    values = torch.zeros((n_steps, n_envs), device=device)
    next_values = torch.zeros((n_steps, n_envs), device=device)
    # (T + 1, N): memory resets up to each row, and up to the row after the rollout
    ending = torch.as_tensor(ending, device=device)
    resets = torch.cat((episode_starts, ending[None])).long().cumsum(0)
    all_envs = torch.arange(n_envs, device=device)
    finals = {}  # {actor: (its layout, the states after each of its sequences)}
    for actor_id, transitions in actors.items():
        order = layout(actor_starts(episode_starts, transitions.rows), all_envs)
        initial = _states({actor_id: order.initial_states(carried.get(actor_id))})
        memory = RecurrentMemory(initial, lengths=order.lengths)  # packed: the states after them count
        observations = {key: order.padded(value) for key, value in transitions.observations.items()}
        sequence_values = critic.predict_value(observations, actor_id, memory).float()
        valid = order.valid
        values[transitions.rows[order.rows[valid]], order.envs.expand_as(valid)[valid]] = sequence_values[
            valid
        ]
        if actor_id in memory.states:  # a feed-forward network of a partly recurrent critic has none
            finals[actor_id] = (order, memory.states[actor_id])
    next_values[:-1] = values[1:]
    for index, (actor_id, (time, env), observations) in enumerate(bootstrap_observations):
        time, env = torch.as_tensor(time, device=device), torch.as_tensor(env, device=device)
        after = time + 1 if index == 0 else time  # the rollout's next observations: row T's
        state = _state_after(actor_id, after, env, actors, finals, carried, resets)
        observations = {key: torch.as_tensor(value, device=device) for key, value in observations.items()}
        memory = RecurrentMemory(_states({actor_id: state} if state is not None else {}))
        next_values[time, env] = critic.predict_value(observations, actor_id, memory).float()
    carried_out = {}
    after = torch.full((n_envs,), n_steps, device=device)
    for actor_id in {*carried, *finals}:
        state = _state_after(actor_id, after, all_envs, actors, finals, carried, resets)
        if state is not None:
            carried_out[actor_id] = state
    return values, next_values, carried_out


def _states(states: dict) -> dict:
    return {key: value for key, value in states.items() if value is not None}


def _state_after(actor_id, time, env, actors, finals, carried, resets):
    """``(M, S)``: the actor's state for observations at row ``time`` (``T``: after the rollout) on
    ``env`` not stepped yet: after its last transition up to ``time`` (a truncated episode's
    final observation at ``time`` continues it), or the carried one if it has none in the rollout
    yet; zeros where an episode started since. None if the actor has no state."""
    start = carried.get(actor_id)
    if actor_id in finals:
        order, final = finals[actor_id]
        rows = actors[actor_id].rows
        last = torch.searchsorted(rows, time, right=True) - 1  # its last transition up to time
        acted = last >= 0
        row = last.clamp(min=0)
        state = final[order.sequence_of[row, env]]
        since = resets[time, env] - torch.where(acted, resets[rows[row], env], torch.zeros_like(time))
        if start is not None:
            state = torch.where(acted[:, None], state, start[env])
        else:
            state = state * acted[:, None]
        return state.masked_fill((since > 0)[:, None], 0.0)
    if start is None:
        return None
    return start[env].masked_fill((resets[time, env] > 0)[:, None], 0.0)

"""The batches algorithms learn from: a :class:`Rollout` (``T`` transitions on each of ``N`` envs,
grouped by actor) and the :class:`Minibatch`es it splits into. Plain dataclasses of tensors, filled
by :class:`~maze_core.training.rollout.VectorEnvCollector` or any other source as documented here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import torch

from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError


@dataclass
class ActorTransitions:
    """The transitions of one actor inside a rollout (or a :class:`Minibatch`)."""

    #: (T_actor,) positions of these transitions along the first axis of the rollout's ``(T, N)``
    #: tensors (the time index), or of a minibatch's ``(B,)`` tensors
    rows: torch.Tensor
    observations: dict[str, torch.Tensor]  # {key: (T_actor, N, ...)}, a minibatch: (B_actor, ...)
    actions: dict[str, torch.Tensor]  # as sent to the env
    #: the samples behind the actions of heads whose distribution has one: a squashed Gaussian's
    #: pre-squash sample, a Gaussian's unclipped sample on a bounded Box
    latents: dict[str, torch.Tensor] = field(default_factory=dict)
    #: the observation after each transition (the next one, the one after the rollout, a
    #: truncated episode's final one), if the rollout was collected with ``next_observations``
    next_observations: dict[str, torch.Tensor] | None = None
    #: for a recurrent model: how the (then padded, ``(L, K, ...)``) observations, actions and
    #: latents form ``K`` sequences, and the states they start from; None otherwise
    sequences: Sequences | None = None


@dataclass
class Sequences:
    """How one actor's transitions in a batch of a recurrent model form ``K`` sequences of up to
    ``L`` steps, padded at the end (see :mod:`maze_core.training.sequences`)."""

    #: (L, K) each step's position in the batch's flat per-transition tensors; -1 where the step is
    #: padding or no transition to learn from (a next-step env's reset-only row)
    index: torch.Tensor
    lengths: torch.Tensor  #: (K,) on the CPU: the real steps of each sequence
    policy_states: torch.Tensor | None  #: (K, S) the policy's state before each sequence; None: zeros
    critic_states: torch.Tensor | None  #: (K, S) the critic's state before each sequence; None: zeros


@dataclass
class Rollout:
    """One rollout. Every tensor named ``(T, N)`` is indexed ``[time, env]``.

    ``terminated``/``truncated`` flag the transitions that ended an episode (the env was then reset:
    the next transition on that env starts a new episode). ``env_step_ends`` is false for the
    sub-steps inside a multi-step env step (env time did not advance), true otherwise.
    ``next_values[t, n]`` is the critic's value of the state after transition ``t`` on env ``n``:
    the next transition's observation, the observation after the rollout for ``t = T - 1``, or the
    final observation of a truncated episode (valued by the critic of the actor it belongs to);
    0 where the episode terminated.
    """

    actors: dict[ActorID, ActorTransitions]
    actor_ids: list[ActorID]  # actor of each time index
    rewards: torch.Tensor  # (T, N) float32
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    env_step_ends: torch.Tensor  # (T, N) bool
    #: (T, N) behaviour policy's log-prob of the taken action (all heads); None if the rollout was
    #: collected with ``behaviour=False`` (an algorithm that re-evaluates the rollout itself)
    log_probs: torch.Tensor | None
    #: (T, N) critic's value of each observation, while acting; None with ``behaviour=False``
    #: (then the algorithm values the observations itself, see next_values_from)
    values: torch.Tensor | None
    #: (T, N) critic's value of the state after each transition; without ``values``, set only
    #: where ``bootstraps`` is (0 elsewhere); None if collected with ``next_observations`` (then
    #: each actor's ``next_observations`` hold those states)
    next_values: torch.Tensor | None
    #: (T, N) bool: where ``next_values`` values an observation that is not in the rollout (the
    #: one after it, a truncated episode's final observation) rather than the next transition's
    bootstraps: torch.Tensor
    #: (T, N) bool, False at rows that are no transition of any episode (a next-step env's
    #: reset-only steps), kept only for an algorithm that asks for them (``handles_reset_rows``;
    #: minibatches and ``valid_only`` leave them out); None: every row is a transition
    valid: torch.Tensor | None = None
    #: transitions the collector took but left out of the rollout (a next-step env's surplus, see
    #: :class:`~maze_core.training.rollout.VectorEnvCollector`): env steps all the same
    dropped_transitions: int = 0
    #: (T, N) bool, for a recurrent model: the rows before which the collector reset the hidden
    #: state (an episode started); None for a feed-forward model
    episode_starts: torch.Tensor | None = None
    #: for a recurrent model: ``{actor_id: (N, S)}``, the policy's / critic's hidden state on each
    #: env when the rollout started (zeros where an episode started with it); None: feed-forward
    policy_states: dict[ActorID, torch.Tensor] | None = None
    critic_states: dict[ActorID, torch.Tensor] | None = None

    def next_values_from(self, values: torch.Tensor) -> torch.Tensor:
        """``next_values`` with the rollout's own observations valued by ``values`` ``(T, N)`` (an
        algorithm's own critic pass, e.g. A2C's) instead of the values from acting: ``values[t + 1]``
        where the next transition follows, the bootstrap values elsewhere, 0 after a termination."""
        following = torch.cat((values[1:], values[-1:]))  # the last row always bootstraps
        return torch.where(self.bootstraps, self.next_values, following).masked_fill_(self.terminated, 0.0)

    def valid_only(self, *tensors: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The ``(T, N)`` tensors as they are, or, for a rollout with :attr:`valid` rows, only its
        valid transitions (flattened): one tensor for one tensor given, a tuple for several."""
        if self.valid is not None:
            index = self.valid.reshape(-1).nonzero().squeeze(1)  # integer indexing: cheaper than a mask
            tensors = tuple(tensor.reshape(-1).index_select(0, index) for tensor in tensors)
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def n_transitions(self) -> int:
        """The transitions of some episode: ``T * N`` less the rows that are not (:attr:`valid`)."""
        return self.rewards.numel() if self.valid is None else int(self.valid.sum())

    @property
    def n_env_steps(self) -> int:
        """The env steps behind the rollout: its transitions and those the collector dropped."""
        return self.n_transitions + self.dropped_transitions

    @property
    def n_steps(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_envs(self) -> int:
        return self.rewards.shape[1]

    @property
    def batch_shape(self) -> torch.Size:
        """``(T, N)``: the shape of one value per transition."""
        return self.rewards.shape

    def to(self, device: torch.device | str) -> Rollout:
        """This rollout with every tensor on ``device`` (itself if they are already there)."""
        device = torch.device(device)
        if self.rewards.device == device:
            return self
        move = lambda tensors: {key: value.to(device) for key, value in tensors.items()}  # noqa: E731
        actors = {
            actor_id: ActorTransitions(
                t.rows.to(device),
                move(t.observations),
                move(t.actions),
                move(t.latents),
                None if t.next_observations is None else move(t.next_observations),
            )
            for actor_id, t in self.actors.items()
        }
        per_transition = {  # the (T, N) fields and the states; those an algorithm did not ask for are None
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("actors", "actor_ids", "dropped_transitions")
        }
        per_transition = {
            name: None if value is None else move(value) if isinstance(value, dict) else value.to(device)
            for name, value in per_transition.items()
        }
        return Rollout(
            actors=actors,
            actor_ids=self.actor_ids,
            dropped_transitions=self.dropped_transitions,
            **per_transition,
        )

    def minibatches(
        self, n_minibatches: int, generator: torch.Generator | None = None, **tensors: torch.Tensor
    ) -> Iterator[Minibatch]:
        """The rollout's ``T * N`` transitions (its valid ones), shuffled and split into
        ``n_minibatches`` of (nearly) equal size; fewer when fewer transitions are :attr:`valid`,
        none when none is.

        ``tensors`` are further ``(T, N)`` values to split alike (e.g. ``advantages=...``); a
        minibatch hands them out by name (``batch["advantages"]``). The shuffle draws from
        ``generator``, or from torch's global RNG (seeded by the run and kept in checkpoints).
        Works the same for one actor and for multi-step or multi-agent rollouts: each minibatch
        groups its transitions by actor, like the rollout.

        A recurrent model's rollout (:attr:`episode_starts` set) splits instead into whole
        sequences: its envs are shuffled and split into ``n_minibatches`` groups (so at most
        ``n_envs``), and a minibatch holds each env's transitions of its group as sequences split at
        episode starts (:meth:`sequences`), in the order of :attr:`Sequences.index`.
        """
        if self.episode_starts is not None:
            yield from self._sequence_minibatches(n_minibatches, generator, tensors)
            return
        n_steps, n_envs = self.batch_shape
        total = n_steps * n_envs
        if not 0 < n_minibatches <= total:
            raise ConfigurationError(
                f"n_minibatches={n_minibatches} must be between 1 and the rollout's {total} transitions "
                "(n_rollout_steps * n_envs): lower it or collect longer rollouts"
            )
        device = self.rewards.device
        if self.values is None or self.log_probs is None:
            raise ValueError(
                "this rollout was collected with behaviour=False; minibatches hand out the log-probs "
                "and values from acting, so collect it with behaviour=True (the trainer's needs_behaviour)"
            )
        per_transition = {"log_probs": self.log_probs, "values": self.values, **tensors}
        flat = {name: value.reshape(total) for name, value in per_transition.items()}
        # each actor's observations, actions and latents with one row per transition, (T_actor * N, ...)
        rows_of = {
            actor_id: [{k: v.flatten(0, 1) for k, v in part.items()} for part in _per_key(transitions)]
            for actor_id, transitions in self.actors.items()
        }
        # one actor took every step (a plain env): a transition's row is its index in the rollout
        only_actor = next(iter(self.actors)) if len(self.actors) == 1 else None
        if only_actor is None or len(self.actors[only_actor].rows) != n_steps:
            only_actor = None
            # for each time index: which actor took it, and its row among that actor's transitions
            owner = torch.empty(n_steps, dtype=torch.long, device=device)
            local_row = torch.empty(n_steps, dtype=torch.long, device=device)
            for index, transitions in enumerate(self.actors.values()):
                owner[transitions.rows] = index
                local_row[transitions.rows] = torch.arange(len(transitions.rows), device=device)
        order = torch.randperm(total, generator=generator).to(device)
        if self.valid is not None:  # rows that are no transition are not trained on
            order = order[self.valid.reshape(total)[order]]
        for indices in torch.tensor_split(order, min(n_minibatches, len(order))):
            if only_actor is not None:
                parts = ({k: v[indices] for k, v in part.items()} for part in rows_of[only_actor])
                actors = {only_actor: ActorTransitions(torch.arange(len(indices), device=device), *parts)}
            else:
                actors = self._minibatch_actors(indices, owner, local_row, rows_of)
            values = {name: value[indices] for name, value in flat.items()}
            yield Minibatch(actors, values.pop("log_probs"), values.pop("values"), values)

    def _minibatch_actors(self, indices, owner, local_row, rows_of) -> dict[ActorID, ActorTransitions]:
        """The transitions at ``indices`` (flat ``time * N + env``) grouped by the actor that took them."""
        n_envs = self.n_envs
        time, env = indices // n_envs, indices % n_envs
        actors = {}
        for index, actor_id in enumerate(self.actors):
            positions = torch.nonzero(owner[time] == index).squeeze(1)
            if len(positions):
                rows = local_row[time[positions]] * n_envs + env[positions]
                parts = ({k: v[rows] for k, v in part.items()} for part in rows_of[actor_id])
                actors[actor_id] = ActorTransitions(positions, *parts)
        return actors

    def sequences(self, envs: torch.Tensor | None = None) -> dict[ActorID, ActorTransitions]:
        """A recurrent model's transitions on ``envs`` (default all) as sequences, per actor: each
        env's transitions split at episode starts, padded into ``(L, K, ...)`` observations,
        actions and latents, with :class:`Sequences` whose ``index`` is the flat position
        ``time * N + env`` of each step in the rollout's ``(T, N)`` tensors (every real step,
        reset-only rows included: they carry the state on) and ``rows`` that of the real steps."""
        from maze_core.training.sequences import actor_starts, layout

        if self.episode_starts is None:
            raise ValueError("this rollout is no recurrent model's: it has no episode_starts")
        envs = torch.arange(self.n_envs, device=self.rewards.device) if envs is None else envs
        actors = {}
        for actor_id, transitions in self.actors.items():
            if not len(transitions.rows):
                continue
            order = layout(actor_starts(self.episode_starts, transitions.rows), envs)
            valid = order.valid
            index = transitions.rows[order.rows] * self.n_envs + order.envs[None, :]
            index = index.masked_fill(~valid, -1)
            states = [
                None if part is None else order.initial_states(part.get(actor_id))
                for part in (self.policy_states, self.critic_states)
            ]
            actors[actor_id] = ActorTransitions(
                index[valid],
                *({k: order.padded(v) for k, v in part.items()} for part in _per_key(transitions)),
                sequences=Sequences(index, order.lengths, *states),
            )
        return actors

    def _sequence_minibatches(self, n_minibatches, generator, tensors) -> Iterator[Minibatch]:
        if not 0 < n_minibatches <= self.n_envs:
            raise ConfigurationError(
                f"n_minibatches={n_minibatches}: a recurrent model trains on whole sequences, and its "
                f"minibatches are groups of envs, so at most the {self.n_envs} envs; lower it or use "
                "more envs (runner.n_envs)"
            )
        if self.values is None or self.log_probs is None:
            raise ValueError("this rollout was collected with behaviour=False; see minibatches()")
        per_transition = {"log_probs": self.log_probs, "values": self.values, **tensors}
        flat = {name: value.reshape(-1) for name, value in per_transition.items()}
        keep = None if self.valid is None else self.valid.reshape(-1)
        order = torch.randperm(self.n_envs, generator=generator).to(self.rewards.device)
        for envs in torch.tensor_split(order, n_minibatches):
            actors, positions, offset = self.sequences(envs), [], 0
            for transitions in actors.values():
                index = transitions.sequences.index
                if keep is not None:  # reset-only rows stay in the sequences, out of the losses
                    index = index.masked_fill(~keep[index.clamp(min=0)], -1)
                learn = index >= 0
                positions.append(index[learn])
                renumbered = torch.full_like(index, -1)
                renumbered[learn] = torch.arange(offset, offset + int(learn.sum()), device=index.device)
                offset += int(learn.sum())
                transitions.rows = renumbered[learn]
                transitions.sequences.index = renumbered
            gathered = torch.cat(positions)
            values = {name: value[gathered] for name, value in flat.items()}
            yield Minibatch(actors, values.pop("log_probs"), values.pop("values"), values)


def _per_key(transitions: ActorTransitions) -> tuple[dict[str, torch.Tensor], ...]:
    return transitions.observations, transitions.actions, transitions.latents


@dataclass
class Minibatch:
    """``B`` transitions drawn from a rollout by :meth:`Rollout.minibatches`, grouped by actor;
    ``rows`` of each actor index the minibatch's ``(B,)`` tensors."""

    actors: dict[ActorID, ActorTransitions]
    log_probs: torch.Tensor  # (B,) the behaviour policy's log-probs
    values: torch.Tensor  # (B,) the critic's values while acting
    tensors: dict[str, torch.Tensor]  # (B,) the extra tensors given to ``minibatches``

    @property
    def batch_shape(self) -> torch.Size:
        return self.log_probs.shape

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

"""Recurrent perception: networks with memory (LSTM, GRU) for partially observed envs.

A recurrent network keeps a hidden state per env between steps. Maze keeps that state *outside*
the network, in a :class:`~maze_core.agent.memory.RecurrentMemory` held by whoever steps the envs
(the rollout collector, the evaluator, ``RunContext.compute_action``), so that one network serves
any number of envs, a checkpoint holds only weights, and training can replay any sequence from the
state it started with.

A network is recurrent if it subclasses :class:`RecurrentNet`: besides ``forward(observation)``
(each row on its own, from a zero state: what the composers' shape check runs) it implements
:meth:`RecurrentNet.forward_with_state`, which runs ``K`` sequences of up to ``L`` steps in one
call. Sequences never contain an episode start after their first step: callers split them there
(docs/models.md, "Recurrent policies", says why).
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Mapping, Sequence

import gymnasium as gym
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from maze_core.errors import ConfigurationError
from maze_core.perception.flatten_concat import OUTPUT_STD, FlattenConcatBaseNet, _LinearHeads
from maze_core.perception.weight_init import normc_

#: the recurrent cells a :class:`RecurrentBlock` (and the composers' ``recurrent`` switch) accepts
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def check_cell(cell: str, what: str = "recurrent") -> str:
    """``cell`` if it names a recurrent cell, else a one-line error naming the choices."""
    if cell not in CELLS:
        raise ConfigurationError(
            f"{what}={cell!r} is not a recurrent cell: use one of {', '.join(repr(c) for c in CELLS)}"
            + (" (or None for a feed-forward network)" if what == "recurrent" else "")
        )
    return cell


class RecurrentBlock(nn.Module):
    """An LSTM or GRU over the rows of a time-major batch, with its state as one flat tensor.

    ``forward(x, state, lengths=None) -> (y, state)``: ``x`` is ``(L * K, in_features)``, the rows
    of ``K`` sequences of ``L`` steps, time-major (row ``t * K + k`` is step ``t`` of sequence
    ``k``), as flattening a ``(L, K, ...)`` batch gives; ``state`` is ``(K, state_size)``, the
    state before each sequence's first step. ``lengths`` (``(K,)``, on the CPU) marks sequences
    shorter than ``L`` (padded at the end): they are packed, so the returned state is the one after
    each sequence's last real step and padding rows come out as zeros. One call of the torch cell
    covers all steps of all sequences (no Python loop over time).

    The state packs the cell's tensors: an LSTM's ``(h, c)`` of ``num_layers`` layers is
    ``2 * num_layers * hidden_size`` numbers per sequence, a GRU's ``h`` half that. Weights are
    orthogonal and biases zero (as CleanRL's LSTM agents).
    """

    def __init__(self, in_features: int, hidden_size: int = 64, cell: str = "lstm", num_layers: int = 1):
        super().__init__()
        self.cell = check_cell(cell, "cell")
        self.hidden_size, self.num_layers = int(hidden_size), int(num_layers)
        self.rnn = CELLS[cell](int(in_features), self.hidden_size, self.num_layers)
        for name, parameter in self.rnn.named_parameters():
            if name.startswith("weight"):
                nn.init.orthogonal_(parameter)
            else:
                nn.init.zeros_(parameter)
        self._parts = 2 if cell == "lstm" else 1
        self.state_size = self._parts * self.num_layers * self.hidden_size

    def forward(
        self, x: torch.Tensor, state: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n_sequences = state.shape[0]
        steps = x.reshape(-1, n_sequences, x.shape[-1])
        hidden = self._unpack(state)
        if lengths is None:
            out, hidden = self.rnn(steps, hidden)
        else:
            packed = pack_padded_sequence(steps, lengths, enforce_sorted=False)
            out, hidden = self.rnn(packed, hidden)
            out, _ = pad_packed_sequence(out, total_length=steps.shape[0])
        return out.reshape(-1, self.hidden_size), self._pack(hidden)

    def _unpack(self, state: torch.Tensor):
        parts = state.reshape(state.shape[0], self._parts * self.num_layers, self.hidden_size)
        parts = parts.transpose(0, 1).contiguous()  # (parts * layers, K, hidden), as torch's cells take it
        if self._parts == 1:
            return parts
        return parts[: self.num_layers], parts[self.num_layers :]

    def _pack(self, hidden) -> torch.Tensor:
        parts = torch.cat(hidden) if isinstance(hidden, tuple) else hidden
        return parts.transpose(0, 1).reshape(parts.shape[1], self.state_size)


class RecurrentNet(nn.Module):
    """Base of networks with memory. Subclasses set ``state_size`` and implement
    :meth:`forward_with_state`; ``forward(observation)`` runs every row as the first step of an
    episode (zero state), which is what the composers' construction check calls.

    Policies and critics call :meth:`forward_with_state` whenever they are given a
    :class:`~maze_core.agent.memory.RecurrentMemory`, and refuse to run a recurrent network
    without one (it would silently forget).
    """

    state_size: int

    def forward(self, observation: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        reference = next(iter(observation.values()))
        state = torch.zeros((reference.shape[0], self.state_size), device=reference.device)
        return self.forward_with_state(observation, state)[0]

    @abstractmethod
    def forward_with_state(
        self,
        observation: Mapping[str, torch.Tensor],
        state: torch.Tensor,
        lengths: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Outputs for ``K = state.shape[0]`` sequences and the state after them.

        ``observation`` has one batch dim of ``L * K`` rows, time-major (row ``t * K + k`` is step
        ``t`` of sequence ``k``); ``state`` ``(K, state_size)`` is the state before each
        sequence's first step; ``lengths`` (``(K,)`` on the CPU, or None: all ``L``) the real
        steps of sequences padded at the end. Returns the outputs for every row and the state after
        each sequence's last real step (see :class:`RecurrentBlock`)."""


class _RecurrentFlattenConcatNet(RecurrentNet):
    """The flatten-concat MLP of the default networks, then an LSTM or GRU of ``recurrent_units``."""

    def __init__(self, obs_shapes, hidden_units, non_lin, obs_spaces, cell: str, recurrent_units: int):
        super().__init__()
        self.encoder = FlattenConcatBaseNet(obs_shapes, hidden_units, non_lin, obs_spaces)
        self.recurrent = RecurrentBlock(self.encoder.latent_dim, recurrent_units, cell)
        self.state_size = self.recurrent.state_size

    def _latent(self, observation, state, lengths) -> tuple[torch.Tensor, torch.Tensor]:
        return self.recurrent(self.encoder.latent(observation), state, lengths)


class RecurrentFlattenConcatPolicyNet(_RecurrentFlattenConcatNet):
    """The default policy network with memory: the flatten-concat MLP of
    :class:`~maze_core.perception.FlattenConcatPolicyNet`, then an LSTM or GRU of
    ``recurrent_units``, then one linear logits head per action head (normc 0.01)."""

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        action_logits_shapes: Mapping[str, Sequence[int]],
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.Tanh,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
        cell: str = "lstm",
        recurrent_units: int = 64,
    ):
        super().__init__(obs_shapes, hidden_units, non_lin, obs_spaces, cell, recurrent_units)
        self.heads = _LinearHeads(self.recurrent.hidden_size, action_logits_shapes, OUTPUT_STD)

    def forward_with_state(self, observation, state, lengths=None):
        latent, state = self._latent(observation, state, lengths)
        return self.heads(latent), state


class RecurrentFlattenConcatStateValueNet(_RecurrentFlattenConcatNet):
    """The default value network with memory: flatten-concat MLP, LSTM or GRU, linear value head
    returning ``{"value": (..., 1)}``."""

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.Tanh,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
        cell: str = "lstm",
        recurrent_units: int = 64,
    ):
        super().__init__(obs_shapes, hidden_units, non_lin, obs_spaces, cell, recurrent_units)
        self.value_head = normc_(nn.Linear(self.recurrent.hidden_size, 1), OUTPUT_STD)

    def forward_with_state(self, observation, state, lengths=None):
        latent, state = self._latent(observation, state, lengths)
        return {"value": self.value_head(latent)}, state


def default_network(feed_forward: type[nn.Module], recurrent: str | None):
    """The default network of a composer: ``feed_forward`` when ``recurrent`` is None, else its
    recurrent counterpart with that cell (the composers' ``recurrent`` switch)."""
    if recurrent is None:
        return feed_forward
    counterpart = {
        "FlattenConcatPolicyNet": RecurrentFlattenConcatPolicyNet,
        "FlattenConcatStateValueNet": RecurrentFlattenConcatStateValueNet,
    }[feed_forward.__name__]
    return functools.partial(counterpart, cell=check_cell(recurrent))

"""The hidden state of a recurrent policy or critic, held by whoever steps the envs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from maze_core.errors import ConfigurationError


class RecurrentMemory:
    """The hidden states of a recurrent model's networks for a batch of envs, one ``(batch,
    state_size)`` tensor per actor (``actor_id`` as the model is called with it: each agent of a
    multi-agent env remembers on its own, even when agents share a network).

    Pass it as ``memory=`` to :meth:`~maze_core.agent.TorchPolicy.compute_action` (and
    ``sample_action``, ``distribution``, ``TorchStateCritic.predict_value``): each call starts from
    the stored state (zeros the first time) and stores the state after it. :meth:`reset` forgets,
    for all envs or those whose episode ended. Feed-forward networks ignore it.

    By default every call is one step of each env in the batch. Training code calls the model on
    ``n_sequences`` sequences ``K`` padded to ``L`` steps (observations ``(L, K, ...)``); with
    ``lengths`` (``(K,)`` on the CPU, the real steps of each) the stored states are those after
    each sequence's last real step, which costs packing the sequences (see
    :class:`~maze_core.perception.recurrent.RecurrentBlock`); without, padding steps count.
    """

    def __init__(
        self,
        states: Mapping[Any, torch.Tensor] | None = None,
        n_sequences: int | None = None,
        lengths: torch.Tensor | None = None,
    ):
        self.states: dict[Any, torch.Tensor] = dict(states or {})
        self.n_sequences = len(lengths) if lengths is not None else n_sequences
        self.lengths = lengths

    def state(self, actor_id, batch_size: int, state_size: int, device: torch.device) -> torch.Tensor:
        """The stored state of ``actor_id``, zeros for a batch of ``batch_size`` if there is none."""
        state = self.states.get(actor_id)
        if state is None:
            return torch.zeros((batch_size, state_size), device=device)
        if state.shape[0] != batch_size:
            raise ConfigurationError(
                f"the recurrent memory holds the state of {state.shape[0]} envs, but this observation is a "
                f"batch of {batch_size}: call reset() (RunContext.reset_memory()) before acting on "
                "another number of envs"
            )
        return state

    def reset(self, where: Any = None) -> None:
        """Forget: everything (``where`` None), or the envs where ``where`` (a bool array or tensor
        of the batch size, e.g. ``terminated | truncated``) is true. Call it at episode starts."""
        if where is None:
            self.states.clear()
            return
        where = torch.as_tensor(
            np.asarray(where, dtype=bool) if not isinstance(where, torch.Tensor) else where
        )
        if not bool(where.any()):
            return
        for actor_id, state in self.states.items():
            # not in place: states made under inference mode cannot be changed outside it
            self.states[actor_id] = state.masked_fill(where.to(state.device)[:, None], 0.0)

    def snapshot(self) -> dict[Any, torch.Tensor]:
        """A copy of the states (normal tensors, also when they were made under inference mode)."""
        return {actor_id: state.clone() for actor_id, state in self.states.items()}

    def __repr__(self) -> str:
        shapes = ", ".join(f"{actor!r}: {tuple(state.shape)}" for actor, state in self.states.items())
        return f"RecurrentMemory({{{shapes}}})"

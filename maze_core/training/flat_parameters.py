"""A model's trainable parameters and their gradients as views into one flat tensor each.

The networks of RL are small: an update's time goes mostly to the fixed cost of each tensor
operation, not to arithmetic. With every parameter a view into one tensor, zeroing the gradients,
their norms, clipping and the optimizer step are each one operation on one tensor instead of one
per parameter tensor, and backward accumulates straight into the flat gradient (B8 in
docs/benchmarks.md: about 5% more env steps per second at 8 envs). The model's own state dict is
unchanged (every network's weights under their own names); only the optimizer sees one tensor.
"""

from __future__ import annotations

import torch
from torch import nn

from maze_core.errors import ConfigurationError, TrainingError


class FlatParameters:
    """Lays the trainable ``policy_parameters`` and ``critic_parameters`` out in one tensor.

    The order is the policy's own parameters, then those it shares with the critic, then the
    critic's own, so the policy's and the critic's gradients are each one slice of :attr:`grad`.
    :attr:`parameter` (data and gradient: the flat tensors) is what the optimizer updates.
    Parameters that do not require gradients are left out (and so never updated).
    """

    def __init__(self, policy_parameters: list[nn.Parameter], critic_parameters: list[nn.Parameter]):
        policy_ids = {id(p) for p in policy_parameters}
        critic_ids = {id(p) for p in critic_parameters}
        policy_only = [p for p in policy_parameters if id(p) not in critic_ids and p.requires_grad]
        shared = [p for p in policy_parameters if id(p) in critic_ids and p.requires_grad]
        critic_only = [p for p in critic_parameters if id(p) not in policy_ids and p.requires_grad]
        self.parameters = [*policy_only, *shared, *critic_only]
        _check_uniform(self.parameters)
        n_policy_only, n_shared = _numel(policy_only), _numel(shared)
        self.policy_slice = slice(0, n_policy_only + n_shared)
        self.critic_slice = slice(n_policy_only, _numel(self.parameters))

        self.data = torch.cat([p.detach().reshape(-1) for p in self.parameters])
        self.grad = torch.zeros_like(self.data)
        self._grad_views = []
        offset = 0
        for p in self.parameters:
            n = p.numel()
            p.data = self.data[offset : offset + n].view_as(p)
            self._grad_views.append(self.grad[offset : offset + n].view_as(p))
            offset += n
        self._data_pointers = [p.data_ptr() for p in self.parameters]
        self.parameter = nn.Parameter(self.data)
        self.zero_grad()

    def zero_grad(self) -> None:
        """Zero the flat gradient, and point every parameter's ``.grad`` back at its view of it
        (code that sets ``.grad`` to None, as ``Module.zero_grad()`` does, would otherwise make
        backward allocate gradients the optimizer never sees)."""
        self.grad.zero_()
        for p, view in zip(self.parameters, self._grad_views, strict=True):
            if p.grad is not view:
                p.grad = view
        if self.parameter.grad is not self.grad:
            self.parameter.grad = self.grad

    def check(self) -> None:
        """Raise if a parameter no longer lives in the flat tensor (``model.to()`` or assigning
        ``.data`` after the trainer was built): the optimizer would no longer update it."""
        if [p.data_ptr() for p in self.parameters] != self._data_pointers:
            raise TrainingError(
                "the model's parameters were replaced after the trainer was built (e.g. by model.to() "
                "or by assigning .data), so the optimizer no longer updates them: move the model to its "
                "device before building the trainer, and load weights with load_state_dict()"
            )

    def norms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 2-norms of the policy's and of the critic's gradients."""
        return self.grad[self.policy_slice].norm(), self.grad[self.critic_slice].norm()


def _numel(parameters: list[nn.Parameter]) -> int:
    return sum(p.numel() for p in parameters)


def _check_uniform(parameters: list[nn.Parameter]) -> None:
    if not parameters:
        raise ConfigurationError("the model has no trainable parameters (none requires gradients)")
    kinds = {(p.dtype, p.device) for p in parameters}
    if len(kinds) > 1:
        described = ", ".join(sorted(f"{dtype} on {device}" for dtype, device in kinds))
        raise ConfigurationError(
            f"the model's trainable parameters differ in dtype or device ({described}); the trainer "
            "needs them all alike: convert the networks with .to(dtype=..., device=...) first"
        )

"""Weight initialisation of the default networks."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def normc_(layer: nn.Linear, std: float = 1.0) -> nn.Linear:
    """The original Maze's "normc" init: Gaussian weights, each output unit's weight row rescaled to
    L2 norm ``std``; zero bias. With ``std=0.01`` on output heads, the initial policy is near-uniform
    and the initial values near zero, whatever the observation scale."""
    weight = layer.weight
    if weight.is_meta:  # no values to set; and torch's meta ``normal_`` would import torch._dynamo
        return layer
    weight.normal_()
    weight.mul_(std / weight.norm(dim=1, keepdim=True).clamp_min(1e-12))
    if layer.bias is not None:
        layer.bias.zero_()
    return layer

"""Tiny networks and run settings shared by tests."""

from __future__ import annotations

import torch
from torch import nn


class ObservedValue(nn.Module):
    """V(s) = s["v"]: makes every bootstrap value readable from the observation."""

    def __init__(self, obs_shapes):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return {"value": x["v"] * self.scale}


#: a small, fast run on CartPole that only needs to work, not to learn
QUICK_RUN = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 8,
    "runner.n_envs": 4,
    "runner.eval_episodes": 2,
    "runner.n_eval_envs": 2,
}

"""The custom networks of the seed tutorial, verbatim (apart from formatting)."""

from typing import Dict, Sequence  # noqa: UP035 - as the tutorial writes it

import torch
import torch.nn as nn


class CartpolePolicyNet(nn.Module):
    """Simple linear policy net for demonstration purposes."""

    def __init__(self, obs_shapes: Dict[str, Sequence[int]], action_logit_shapes: Dict[str, Sequence[int]]):  # noqa: UP006
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features=obs_shapes["observation"][0], out_features=action_logit_shapes["action"][0])
        )

    def forward(self, x_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        x = x_dict["observation"]
        logits = self.net(x)
        logits_dict = {"action": logits}
        return logits_dict


class CartpoleValueNet(nn.Module):
    """Simple linear value net for demonstration purposes."""

    def __init__(self, obs_shapes: Dict[str, Sequence[int]]):  # noqa: UP006
        super().__init__()
        self.value_net = nn.Sequential(nn.Linear(in_features=obs_shapes["observation"][0], out_features=1))

    def forward(self, x_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:  # noqa: UP006
        x = x_dict["observation"]
        value = self.value_net(x)
        value_dict = {"value": value}
        return value_dict

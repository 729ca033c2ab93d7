"""The default networks: every observation flattened and concatenated, then one MLP. A scalar
``Discrete(n)`` observation (given ``obs_spaces``) enters one-hot encoded, as ``n`` features.

They run on every rollout step, so they are written as plain modules (one ``nn.Sequential`` and
linear heads) rather than a graph of perception blocks. They accept any number of leading batch
dims (none, ``(batch,)`` or ``(time, envs)``), so they need no shape normalisation.

The Q networks of state-action critics (:class:`FlattenConcatQValuesNet`,
:class:`FlattenConcatStateActionValueNet`) default to ReLU and torch's own ``nn.Linear`` init, the
defaults of off-policy learning elsewhere (Stable-Baselines3's DQN and SAC), not tanh and normc.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import nn

from maze_core.perception.blocks import mlp
from maze_core.perception.weight_init import normc_

HIDDEN_STD = 1.0
OUTPUT_STD = 0.01


class FlattenConcatBaseNet(nn.Module):
    """Flattens and concatenates the observations (in ``obs_shapes`` order) into an MLP latent.

    Hidden layers get normc init with ``hidden_std``; None keeps torch's default ``nn.Linear`` init.
    """

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.Tanh,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
        hidden_std: float | None = HIDDEN_STD,
    ):
        super().__init__()
        self.obs_shapes = {key: tuple(int(d) for d in shape) for key, shape in obs_shapes.items()}
        self.hidden_units = [int(u) for u in hidden_units]
        # (key, number of trailing feature dims) per observation
        self._inputs = tuple((key, len(shape)) for key, shape in self.obs_shapes.items())
        # scalar Discrete observations: (key, start, n), encoded one-hot
        spaces = dict(obs_spaces.spaces if isinstance(obs_spaces, gym.spaces.Dict) else obs_spaces or {})
        self._one_hot = {
            key: (int(space.start), int(space.n))
            for key, space in spaces.items()
            if isinstance(space, gym.spaces.Discrete) and self.obs_shapes.get(key) == ()
        }
        in_features = sum(
            self._one_hot[key][1] if key in self._one_hot else math.prod(shape)
            for key, shape in self.obs_shapes.items()
        )
        self.latent_net = mlp(in_features, self.hidden_units, non_lin)
        for layer in self.latent_net:
            if isinstance(layer, nn.Linear) and hidden_std is not None:  # None: torch's default init
                normc_(layer, hidden_std)
        self.latent_dim = self.hidden_units[-1] if self.hidden_units else in_features

    def latent(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self._one_hot:
            obs = {
                **obs,
                **{
                    key: F.one_hot(obs[key].long() - start, n).float()
                    for key, (start, n) in self._one_hot.items()
                },
            }
            # each one-hot key now has one feature dim
            inputs = tuple((key, 1 if key in self._one_hot else n_dims) for key, n_dims in self._inputs)
            return self.latent_net(
                torch.cat([_flatten(obs[key], n_dims) for key, n_dims in inputs], dim=-1).float()
            )
        if len(self._inputs) == 1 and self._inputs[0][1] == 1:
            x = obs[self._inputs[0][0]]
        else:
            x = torch.cat([_flatten(obs[key], n_dims) for key, n_dims in self._inputs], dim=-1)
        if not x.is_floating_point():
            x = x.float()
        return self.latent_net(x)


def _flatten(x: torch.Tensor, n_dims: int) -> torch.Tensor:
    """Flatten the trailing ``n_dims`` dims of ``x`` into one (a scalar feature gets a dim of 1)."""
    if n_dims == 1:
        return x
    if n_dims == 0:
        return x.unsqueeze(-1)
    return x.flatten(start_dim=x.dim() - n_dims)


class _LinearHeads(nn.Module):
    """One linear layer per output key, reshaping each output to its declared shape."""

    def __init__(self, in_features: int, out_shapes: Mapping[str, Sequence[int]], std: float):
        super().__init__()
        self.keys = tuple(out_shapes)
        self.shapes = tuple(tuple(int(d) for d in shape) for shape in out_shapes.values())
        self.layers = nn.ModuleList(normc_(nn.Linear(in_features, math.prod(s)), std) for s in self.shapes)

    def forward(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for key, shape, layer in zip(self.keys, self.shapes, self.layers, strict=True):
            y = layer(latent)
            out[key] = y if len(shape) == 1 else y.reshape((*latent.shape[:-1], *shape))
        return out


class FlattenConcatPolicyNet(FlattenConcatBaseNet):
    """Default policy network: flatten-concat MLP with one linear logits head per action head.

    Hidden layers use normc init with std 1.0, heads std 0.01 (near-uniform initial policy), as the
    original Maze did.
    """

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        action_logits_shapes: Mapping[str, Sequence[int]],
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.Tanh,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
    ):
        super().__init__(obs_shapes, hidden_units, non_lin, obs_spaces)
        self.heads = _LinearHeads(self.latent_dim, action_logits_shapes, OUTPUT_STD)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.heads(self.latent(obs))


class FlattenConcatStateValueNet(FlattenConcatBaseNet):
    """Default value network: flatten-concat MLP with a linear head returning ``{"value": (..., 1)}``."""

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.Tanh,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
    ):
        super().__init__(obs_shapes, hidden_units, non_lin, obs_spaces)
        self.value_head = normc_(nn.Linear(self.latent_dim, 1), OUTPUT_STD)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"value": self.value_head(self.latent(obs))}


class FlattenConcatQValuesNet(FlattenConcatBaseNet):
    """Default Q network for a ``Discrete(n_actions)`` action head: flatten-concat MLP with a linear
    head returning ``{"q_values": (..., n_actions)}``, one Q-value per action."""

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        n_actions: int,
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.ReLU,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
    ):
        super().__init__(obs_shapes, hidden_units, non_lin, obs_spaces, hidden_std=None)
        self.n_actions = int(n_actions)
        self.q_head = nn.Linear(self.latent_dim, self.n_actions)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"q_values": self.q_head(self.latent(obs))}


class FlattenConcatStateActionValueNet(FlattenConcatBaseNet):
    """Default Q network for Box action heads: the observations and the actions (``action_shapes``,
    ``{head: shape}``) flattened and concatenated, an MLP and a linear head returning
    ``{"q_value": (..., 1)}``. Its input is one dict holding both, as state-action critics call it."""

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        action_shapes: Mapping[str, Sequence[int]],
        hidden_units: Sequence[int] = (256, 256),
        non_lin=nn.ReLU,
        obs_spaces: Mapping[str, gym.Space] | gym.spaces.Dict | None = None,
    ):
        super().__init__({**obs_shapes, **action_shapes}, hidden_units, non_lin, obs_spaces, hidden_std=None)
        self.action_shapes = {key: tuple(int(d) for d in shape) for key, shape in action_shapes.items()}
        self.q_head = nn.Linear(self.latent_dim, 1)

    def forward(self, obs_and_action: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"q_value": self.q_head(self.latent(obs_and_action))}

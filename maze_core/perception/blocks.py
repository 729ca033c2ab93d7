"""Perception blocks: dict-in/dict-out modules with declared input keys and shapes.

``TorchModelBlock`` is what users meet: it wraps any dict-in/dict-out network so that the network
only ever sees inputs with exactly one batch dimension, whatever the caller passes (a single
observation, a batch, or a time x envs rollout).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from maze_core._imports import import_object
from maze_core.errors import ConfigurationError

Shape = tuple[int, ...]


def _as_list(value: Any) -> list:
    """A list stays a list (of items); anything else is a single item."""
    return list(value) if isinstance(value, list) else [value]


def _as_shape_list(shapes: Any, n_keys: int) -> list[Shape]:
    """Shapes for ``n_keys`` inputs. ``(4,)``, ``[4]`` (for one key) and ``[(4,), (3, 2)]`` all work."""
    if shapes is None:
        return []
    if isinstance(shapes, list) and shapes and all(isinstance(s, Sequence) for s in shapes):
        return [tuple(int(d) for d in s) for s in shapes]
    if isinstance(shapes, Sequence) and all(isinstance(d, numbers.Integral) for d in shapes) and n_keys == 1:
        return [tuple(shapes)]
    raise ConfigurationError(
        f"in_shapes={shapes!r} is not a shape or a list of shapes (one per input key, e.g. [(4,), (3, 5)])"
    )


def resolve_non_lin(non_lin: str | type[nn.Module] | Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """An activation given as a class, a factory or a dotted path such as ``"torch.nn.ReLU"``."""
    if isinstance(non_lin, str):
        non_lin = import_object(non_lin, "activation", kind=nn.Module)
    if not callable(non_lin):
        raise ConfigurationError(f"non_lin={non_lin!r} is not an activation class such as torch.nn.Tanh")
    return non_lin


def mlp(in_features: int, hidden_units: Sequence[int], non_lin) -> nn.Sequential:
    """Linear + activation for every entry of ``hidden_units`` (the activation follows every layer)."""
    make_non_lin = resolve_non_lin(non_lin)
    layers: list[nn.Module] = []
    for units in hidden_units:
        layers += [nn.Linear(in_features, int(units)), make_non_lin()]
        in_features = int(units)
    return nn.Sequential(*layers)


class PerceptionBlock(nn.Module, ABC):
    """A module mapping a dict of tensors to a dict of tensors, with declared keys and input shapes.

    ``in_keys``, ``out_keys`` and ``in_shapes`` may each be a single item or a list (a tuple is a
    single shape). ``in_shapes`` are the shapes of one sample, without batch dimensions.
    """

    def __init__(self, in_keys, out_keys, in_shapes):
        super().__init__()
        self.in_keys: list[str] = _as_list(in_keys)
        self.out_keys: list[str] = _as_list(out_keys)
        self.in_shapes: list[Shape] = _as_shape_list(in_shapes, len(self.in_keys))
        if self.in_shapes and len(self.in_shapes) != len(self.in_keys):
            raise ConfigurationError(
                f"{type(self).__name__}: {len(self.in_keys)} in_keys {self.in_keys} but "
                f"{len(self.in_shapes)} in_shapes {self.in_shapes}; give one shape per input key"
            )

    @abstractmethod
    def forward(self, block_input: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Compute the outputs ``{out_key: tensor}`` from ``{in_key: tensor}``."""

    @torch.no_grad()
    def out_shapes(self) -> list[Shape]:
        """Output shapes of one sample (without batch dim), found by a forward pass on random input."""
        if len(self.in_shapes) != len(self.in_keys):
            raise ConfigurationError(f"{type(self).__name__} needs in_shapes to compute its output shapes")
        parameter = next(self.parameters(), None)
        device = parameter.device if parameter is not None else None
        dummy = {
            key: torch.randn((1, *shape), device=device)
            for key, shape in zip(self.in_keys, self.in_shapes, strict=True)
        }
        output = self(dummy)
        return [tuple(output[key].shape[1:]) for key in self.out_keys]

    def get_num_of_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        shapes = ", ".join(f"{k}: {s}" for k, s in zip(self.in_keys, self.in_shapes, strict=False))
        return f"({shapes}) -> {self.out_keys}"


class ShapeNormalizationBlock(PerceptionBlock, ABC):
    """A block whose computation (:meth:`normalized_forward`) sees exactly one batch dimension.

    ``in_num_dims[i]`` is the rank input ``i`` must have for that computation, batch dim included;
    its trailing ``in_num_dims[i] - 1`` dims are the features and everything before them is batch.
    Unbatched input gets a batch dim added (removed again from the outputs); several leading dims
    (time x envs) are flattened into one and restored on the outputs, whose trailing
    ``out_num_dims[j] - 1`` dims are kept as features.
    """

    def __init__(self, in_keys, out_keys, in_shapes, in_num_dims, out_num_dims):
        super().__init__(in_keys, out_keys, in_shapes)
        self.in_num_dims: list[int] = [int(d) for d in _as_list(in_num_dims)]
        self.out_num_dims: list[int] = [int(d) for d in _as_list(out_num_dims)]
        for name, keys, dims in (
            ("in", self.in_keys, self.in_num_dims),
            ("out", self.out_keys, self.out_num_dims),
        ):
            if len(dims) != len(keys):
                raise ConfigurationError(
                    f"{type(self).__name__}: {len(keys)} {name}_keys {keys} but {name}_num_dims={dims}; "
                    f"give one rank per key"
                )
            if any(d < 1 for d in dims):
                raise ConfigurationError(
                    f"{type(self).__name__}: {name}_num_dims={dims} must count the batch dim, so each is >= 1"
                )

    @abstractmethod
    def normalized_forward(self, block_input: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The computation, on inputs of rank ``in_num_dims`` (exactly one batch dim)."""

    def forward(self, block_input: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        batch_shape = None
        normalized = {}
        for key, num_dims in zip(self.in_keys, self.in_num_dims, strict=True):
            try:
                tensor = block_input[key]
            except KeyError:
                raise KeyError(
                    f"{type(self).__name__} needs input {key!r}, got keys {sorted(block_input)}"
                ) from None
            n_features = num_dims - 1
            n_batch = tensor.dim() - n_features
            if n_batch < 0:
                raise ValueError(
                    f"{type(self).__name__}: input {key!r} has shape {tuple(tensor.shape)}, but in_num_dims="
                    f"{num_dims} means {n_features} feature dims"
                )
            lead = tensor.shape[:n_batch]
            if batch_shape is None:
                batch_shape = lead
            elif lead != batch_shape:
                raise ValueError(
                    f"{type(self).__name__}: inputs disagree on their batch dims: {tuple(batch_shape)} "
                    f"and {tuple(lead)} (input {key!r})"
                )
            if n_batch != 1:
                tensor = tensor.reshape(-1, *tensor.shape[n_batch:])
            normalized[key] = tensor

        output = self.normalized_forward(normalized)
        if batch_shape is None or len(batch_shape) == 1:
            return output
        output = dict(output)
        for key, num_dims in zip(self.out_keys, self.out_num_dims, strict=True):
            tensor = output[key]
            output[key] = tensor.reshape((*batch_shape, *tensor.shape[tensor.dim() - (num_dims - 1) :]))
        return output


class TorchModelBlock(ShapeNormalizationBlock):
    """Wraps a dict-in/dict-out network with shape normalisation (see :class:`ShapeNormalizationBlock`).

    The network gets ``{in_key: tensor}`` for the block's ``in_keys``, each of rank ``in_num_dims``,
    and must return at least the ``out_keys``, each of rank ``out_num_dims``. This makes a network
    written for batched input work on single observations and on (time, envs) rollouts.
    """

    def __init__(self, in_keys, out_keys, in_shapes, in_num_dims, out_num_dims, net: nn.Module):
        super().__init__(in_keys, out_keys, in_shapes, in_num_dims, out_num_dims)
        if not isinstance(net, nn.Module):
            raise ConfigurationError(
                f"TorchModelBlock(net=...) must be a torch.nn.Module, got {type(net).__name__}"
            )
        self.net = net

    def normalized_forward(self, block_input: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        output = self.net(block_input)
        if not isinstance(output, Mapping):
            raise ConfigurationError(
                f"{type(self.net).__name__} (in a TorchModelBlock) returned a {type(output).__name__}; "
                f"it must return a dict with keys {self.out_keys}"
            )
        for key, num_dims in zip(self.out_keys, self.out_num_dims, strict=True):
            if key not in output:
                raise ConfigurationError(
                    f"{type(self.net).__name__} (in a TorchModelBlock) returned keys {sorted(output)}, "
                    f"but out_keys names {key!r}"
                )
            if output[key].dim() != num_dims:
                raise ConfigurationError(
                    f"{type(self.net).__name__} (in a TorchModelBlock) returned {key!r} of shape "
                    f"{tuple(output[key].shape)}, but out_num_dims says rank {num_dims} (batch dim included)"
                )
        return output

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, in_num_dims={self.in_num_dims}, out_num_dims={self.out_num_dims}"


class FlattenBlock(PerceptionBlock):
    """Flattens the last ``num_flatten_dims`` dims of each input (``in_keys[i] -> out_keys[i]``)."""

    def __init__(self, in_keys, out_keys, in_shapes, num_flatten_dims: int):
        super().__init__(in_keys, out_keys, in_shapes)
        if len(self.in_keys) != len(self.out_keys):
            raise ConfigurationError(
                f"FlattenBlock maps each input to one output: got {self.in_keys} -> {self.out_keys}"
            )
        self.num_flatten_dims = int(num_flatten_dims)

    def forward(self, block_input):
        n = self.num_flatten_dims
        return {
            out_key: block_input[in_key].flatten(start_dim=block_input[in_key].dim() - n)
            if n > 0
            else block_input[in_key].unsqueeze(-1)
            for in_key, out_key in zip(self.in_keys, self.out_keys, strict=True)
        }


class ConcatenationBlock(PerceptionBlock):
    """Concatenates all inputs along ``concat_dim`` into the single output."""

    def __init__(self, in_keys, out_keys, in_shapes, concat_dim: int = -1):
        super().__init__(in_keys, out_keys, in_shapes)
        if len(self.out_keys) != 1:
            raise ConfigurationError(f"ConcatenationBlock has one output key, got {self.out_keys}")
        self.concat_dim = int(concat_dim)

    def forward(self, block_input):
        return {self.out_keys[0]: torch.cat([block_input[k] for k in self.in_keys], dim=self.concat_dim)}


class DenseBlock(ShapeNormalizationBlock):
    """An MLP on the last dim of its single input: Linear + ``non_lin`` for each of ``hidden_units``."""

    def __init__(self, in_keys, out_keys, in_shapes, hidden_units: Sequence[int], non_lin=nn.Tanh):
        super().__init__(in_keys, out_keys, in_shapes, in_num_dims=2, out_num_dims=2)
        if not self.in_shapes:
            raise ConfigurationError("DenseBlock needs in_shapes to size its first layer")
        self.hidden_units = [int(u) for u in hidden_units]
        self.output_units = self.hidden_units[-1] if self.hidden_units else self.in_shapes[0][-1]
        self.net = mlp(self.in_shapes[0][-1], self.hidden_units, non_lin)

    def normalized_forward(self, block_input):
        return {self.out_keys[0]: self.net(block_input[self.in_keys[0]])}


class LinearOutputBlock(ShapeNormalizationBlock):
    """A single linear layer without activation, e.g. for logits or values."""

    def __init__(self, in_keys, out_keys, in_shapes, output_units: int):
        super().__init__(in_keys, out_keys, in_shapes, in_num_dims=2, out_num_dims=2)
        if not self.in_shapes:
            raise ConfigurationError("LinearOutputBlock needs in_shapes to size its layer")
        self.output_units = int(output_units)
        self.net = nn.Linear(self.in_shapes[0][-1], self.output_units)

    def set_bias(self, bias) -> None:
        """Set the bias to a scalar or an array of ``output_units`` values (e.g. prior log-probs)."""
        with torch.no_grad():
            self.net.bias.copy_(torch.as_tensor(bias, dtype=self.net.bias.dtype).expand_as(self.net.bias))

    def normalized_forward(self, block_input):
        return {self.out_keys[0]: self.net(block_input[self.in_keys[0]])}

"""Perception: dict-in/dict-out network building blocks and the default flatten-concat networks."""

from maze_core.perception.blocks import (
    ConcatenationBlock,
    DenseBlock,
    FlattenBlock,
    LinearOutputBlock,
    PerceptionBlock,
    ShapeNormalizationBlock,
    TorchModelBlock,
)
from maze_core.perception.flatten_concat import (
    FlattenConcatBaseNet,
    FlattenConcatPolicyNet,
    FlattenConcatStateValueNet,
)
from maze_core.perception.weight_init import normc_

__all__ = [
    "ConcatenationBlock",
    "DenseBlock",
    "FlattenBlock",
    "FlattenConcatBaseNet",
    "FlattenConcatPolicyNet",
    "FlattenConcatStateValueNet",
    "LinearOutputBlock",
    "PerceptionBlock",
    "ShapeNormalizationBlock",
    "TorchModelBlock",
    "normc_",
]

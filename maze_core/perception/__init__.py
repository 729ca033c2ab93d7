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
    FlattenConcatQValuesNet,
    FlattenConcatStateActionValueNet,
    FlattenConcatStateValueNet,
)
from maze_core.perception.recurrent import (
    RecurrentBlock,
    RecurrentFlattenConcatPolicyNet,
    RecurrentFlattenConcatStateValueNet,
    RecurrentNet,
)
from maze_core.perception.weight_init import normc_

__all__ = [
    "ConcatenationBlock",
    "DenseBlock",
    "FlattenBlock",
    "FlattenConcatBaseNet",
    "FlattenConcatPolicyNet",
    "FlattenConcatQValuesNet",
    "FlattenConcatStateActionValueNet",
    "FlattenConcatStateValueNet",
    "LinearOutputBlock",
    "PerceptionBlock",
    "RecurrentBlock",
    "RecurrentFlattenConcatPolicyNet",
    "RecurrentFlattenConcatStateValueNet",
    "RecurrentNet",
    "ShapeNormalizationBlock",
    "TorchModelBlock",
    "normc_",
]

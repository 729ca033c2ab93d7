"""Perception blocks: shape normalisation of TorchModelBlock, standard blocks, default networks."""

import pytest
import torch
from models.tutorial_nets import CartpolePolicyNet, CartpoleValueNet
from torch import nn

from maze_core.errors import ConfigurationError
from maze_core.perception import (
    ConcatenationBlock,
    DenseBlock,
    FlattenBlock,
    FlattenConcatPolicyNet,
    FlattenConcatStateValueNet,
    LinearOutputBlock,
    TorchModelBlock,
)

OBS_SHAPE = (4,)  # CartPole: env.observation_space.spaces["observation"].shape


class ConvAndLinear(nn.Module):
    """Needs exactly one batch dim: Conv2d on (B, 3, 5, 5), Linear on (B, 16)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.linear = nn.Linear(16, 32)

    def forward(self, x):
        assert x["image"].dim() == 4 and x["vector"].dim() == 2
        return {"features": self.conv(x["image"]), "embedding": self.linear(x["vector"])}


@pytest.fixture
def conv_block():
    return TorchModelBlock(
        in_keys=["image", "vector"],
        out_keys=["features", "embedding"],
        in_shapes=[(3, 5, 5), (16,)],
        in_num_dims=[4, 2],
        out_num_dims=[4, 2],
        net=ConvAndLinear(),
    )


@pytest.mark.parametrize("batch_shape", [(), (8,), (5, 8)], ids=["unbatched", "batched", "time-x-envs"])
def test_torch_model_block_restores_the_batch_shape(conv_block, batch_shape):
    out = conv_block({"image": torch.randn(*batch_shape, 3, 5, 5), "vector": torch.randn(*batch_shape, 16)})
    assert out["features"].shape == (*batch_shape, 4, 5, 5)
    assert out["embedding"].shape == (*batch_shape, 32)


def test_torch_model_block_gives_the_same_values_for_every_layout(conv_block):
    image, vector = torch.randn(2, 3, 3, 5, 5), torch.randn(2, 3, 16)
    rollout = conv_block({"image": image, "vector": vector})
    single = conv_block({"image": image[1, 2], "vector": vector[1, 2]})
    torch.testing.assert_close(rollout["embedding"][1, 2], single["embedding"])
    torch.testing.assert_close(rollout["features"][1, 2], single["features"])


@pytest.mark.parametrize("batch_shape", [(), (8,), (100, 8)], ids=["unbatched", "batched", "time-x-envs"])
def test_tutorial_networks_wrapped_as_the_tutorial_does(batch_shape):
    policy_net = CartpolePolicyNet(
        obs_shapes={"observation": OBS_SHAPE}, action_logit_shapes={"action": (2,)}
    )
    policy_net = TorchModelBlock(
        in_keys="observation",
        out_keys="action",
        in_shapes=OBS_SHAPE,
        in_num_dims=[2],
        out_num_dims=2,
        net=policy_net,
    )
    value_net = TorchModelBlock(
        in_keys="observation",
        out_keys="value",
        in_shapes=OBS_SHAPE,
        in_num_dims=[2],
        out_num_dims=2,
        net=CartpoleValueNet({"observation": OBS_SHAPE}),
    )
    obs = {"observation": torch.randn(*batch_shape, 4)}
    assert policy_net(obs)["action"].shape == (*batch_shape, 2)
    assert value_net(obs)["value"].shape == (*batch_shape, 1)
    assert policy_net.in_keys == ["observation"] and policy_net.in_shapes == [(4,)]
    assert policy_net.out_shapes() == [(2,)]


def test_torch_model_block_passes_only_its_input_keys():
    seen = {}

    class Spy(nn.Module):
        def forward(self, x):
            seen.update(x)
            return {"out": x["a"] * 2}

    block = TorchModelBlock("a", "out", (3,), 2, 2, Spy())
    block({"a": torch.ones(3), "b": torch.ones(7)})
    assert list(seen) == ["a"] and seen["a"].shape == (1, 3)


def test_torch_model_block_rejects_a_net_output_of_the_wrong_rank():
    block = TorchModelBlock("x", "x", (3,), 2, 3, nn.Identity())
    with pytest.raises(ConfigurationError, match="out_num_dims says rank 3"):
        block({"x": torch.ones(2, 3)})


def test_torch_model_block_rejects_inputs_with_different_batch_dims():
    block = TorchModelBlock(["a", "b"], "a", [(3,), (3,)], [2, 2], 2, nn.Identity())
    with pytest.raises(ValueError, match="disagree on their batch dims"):
        block({"a": torch.ones(4, 3), "b": torch.ones(5, 3)})


def test_torch_model_block_checks_the_number_of_ranks():
    with pytest.raises(ConfigurationError, match="one rank per key"):
        TorchModelBlock(["a", "b"], "y", [(3,), (3,)], [2], 2, nn.Identity())


def test_in_shapes_accept_a_list_of_ints_for_one_key():
    block = TorchModelBlock("x", "y", [4], 2, 2, nn.Identity())
    assert block.in_shapes == [(4,)]


@pytest.mark.parametrize("batch_shape", [(16,), (100, 16), (100, 5, 16)])
def test_dense_block_acts_on_the_last_dim(batch_shape):
    block = DenseBlock("x", "h", (16,), hidden_units=[32, 8], non_lin="torch.nn.ReLU")
    out = block({"x": torch.randn(*batch_shape)})["h"]
    assert out.shape == (*batch_shape[:-1], 8)
    assert (out >= 0).all()  # the activation follows the last layer too


def test_flatten_concat_and_linear_output_blocks():
    flat = FlattenBlock(["a", "b"], ["a_flat", "b_flat"], [(2, 3), (4,)], num_flatten_dims=2)
    out = flat({"a": torch.randn(7, 2, 3), "b": torch.randn(7, 4, 1)})
    assert out["a_flat"].shape == (7, 6) and out["b_flat"].shape == (7, 4)
    concat = ConcatenationBlock(["a_flat", "b_flat"], "concat", [(6,), (4,)], concat_dim=-1)
    assert concat(out)["concat"].shape == (7, 10)
    head = LinearOutputBlock("concat", "logits", (10,), output_units=3)
    head.set_bias([0.0, 1.0, 2.0])
    assert head({"concat": torch.zeros(5, 7, 10)})["logits"][4, 6].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("batch_shape", [(), (8,), (5, 8)], ids=["unbatched", "batched", "time-x-envs"])
def test_default_networks_take_any_batch_shape(batch_shape):
    obs_shapes = {"position": (3,), "grid": (2, 4), "flag": ()}
    policy = FlattenConcatPolicyNet(obs_shapes, {"choice": (3,), "force": (4,), "grid_action": (2, 3)})
    value = FlattenConcatStateValueNet(obs_shapes, hidden_units=[16])
    obs = {
        "position": torch.randn(*batch_shape, 3),
        "grid": torch.randn(*batch_shape, 2, 4),
        "flag": torch.randint(0, 2, batch_shape),  # integer scalars get cast to float
    }
    logits = policy(obs)
    assert {k: tuple(v.shape) for k, v in logits.items()} == {
        "choice": (*batch_shape, 3),
        "force": (*batch_shape, 4),
        "grid_action": (*batch_shape, 2, 3),
    }
    assert value(obs)["value"].shape == (*batch_shape, 1)


def test_default_network_initialisation():
    net = FlattenConcatPolicyNet(
        {"observation": (4,)}, {"action": (2,)}, hidden_units=(256, 256), non_lin=nn.Tanh
    )
    first, head = net.latent_net[0], net.heads.layers[0]
    torch.testing.assert_close(first.weight.norm(dim=1), torch.ones(256))
    torch.testing.assert_close(head.weight.norm(dim=1), torch.full((2,), 0.01))
    assert not first.bias.any() and not head.bias.any()
    assert isinstance(net.latent_net[1], nn.Tanh) and len(net.latent_net) == 4

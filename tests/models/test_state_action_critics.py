"""State-action critics (Q over all Discrete actions, Q(s, a) for Box actions), their composers,
twin critics, the greedy policy over a Discrete critic and the actor-critic holding both."""

import copy
import io
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from maze_critics import (
    SharedStateActionCriticComposer,
    StepStateActionCriticComposer,
    StepStateCriticComposer,
)
from maze_policies import ProbabilisticPolicyComposer, QGreedyPolicyComposer
from torch import nn

from maze_core import TorchActorCritic, plugins
from maze_core.agent import (
    BaseStateActionCriticComposer,
    BaseStateCriticComposer,
    QGreedyPolicy,
    TorchSharedStateActionCritic,
    TorchStepStateActionCritic,
)
from maze_core.errors import ConfigurationError
from maze_core.perception import FlattenConcatQValuesNet, FlattenConcatStateActionValueNet

SMALL = {"hidden_units": [16]}


def box(*shape, low=-1.0, high=1.0):
    return spaces.Box(low, high, shape=shape, dtype=np.float32)


def observations(n_keys=1):
    return {step_key: spaces.Dict(observation=box(4)) for step_key in range(n_keys)}


DISCRETE = spaces.Dict(action=spaces.Discrete(3))
ONE_BOX = spaces.Dict(action=box(2))
TWO_BOXES = spaces.Dict(steer=box(2), gas=box(3, 1, low=0.0))


def small(net_class):
    return {"_target_": net_class, **SMALL}


def critic_for(actions, composer=StepStateActionCriticComposer, n_critics=1):
    """A composer for one step key with small default networks."""
    net = FlattenConcatQValuesNet if actions is DISCRETE else FlattenConcatStateActionValueNet
    return composer(observations(), {0: actions}, networks=[small(net)], n_critics=n_critics)


def sampled(space, batch_shape, seed=0):
    space = copy.deepcopy(space)
    space.seed(seed)
    n = math.prod(batch_shape)
    samples = [space.sample() for _ in range(n)]
    return {
        key: np.stack([sample[key] for sample in samples]).reshape((*batch_shape, *space[key].shape))
        for key in space.spaces
    }


BATCH_SHAPES = pytest.mark.parametrize("batch_shape", [(), (6,), (5, 3)], ids=["single", "B", "TxN"])
COMPOSERS = pytest.mark.parametrize(
    "composer", [StepStateActionCriticComposer, SharedStateActionCriticComposer], ids=["step", "shared"]
)


@BATCH_SHAPES
@COMPOSERS
def test_discrete_actions_give_q_values_of_all_actions(batch_shape, composer):
    critic = critic_for(DISCRETE, composer, n_critics=2).critic
    obs = sampled(observations()[0], batch_shape)
    q = critic.q_values(obs)
    assert q.shape == (2, *batch_shape, 3) and q.requires_grad
    action = sampled(DISCRETE, batch_shape, seed=1)
    taken = critic.q_value(obs, action)
    assert taken.shape == (2, *batch_shape)
    expected = torch.take_along_dim(q, torch.as_tensor(action["action"])[None, ..., None], dim=-1)[..., 0]
    assert torch.equal(taken, expected)
    with pytest.raises(ValueError, match="Box heads"):
        critic_for(ONE_BOX, composer).critic.q_values(obs)


@BATCH_SHAPES
@COMPOSERS
@pytest.mark.parametrize("actions", [ONE_BOX, TWO_BOXES], ids=["box", "dict-of-two-boxes"])
def test_box_actions_give_one_q_value_per_observation_and_action(batch_shape, composer, actions):
    critic = critic_for(actions, composer, n_critics=2).critic
    obs, action = sampled(observations()[0], batch_shape), sampled(actions, batch_shape)
    q = critic.q_value(obs, action)
    assert q.shape == (2, *batch_shape) and q.requires_grad
    # as tensors, and with the batch flattened: the same values
    flat = critic.q_value(
        {k: torch.as_tensor(v).reshape(-1, *v.shape[len(batch_shape) :]) for k, v in obs.items()},
        {k: torch.as_tensor(v).reshape(-1, *v.shape[len(batch_shape) :]) for k, v in action.items()},
    )
    torch.testing.assert_close(flat.reshape(q.shape), q)
    with pytest.raises(ValueError, match=r"lacks the heads \['gas'\]" if actions is TWO_BOXES else "lacks"):
        critic.q_value(obs, {k: v for k, v in action.items() if k != "gas"} if actions is TWO_BOXES else {})


def test_default_networks_and_discrete_heads_with_a_start():
    actions = {0: spaces.Dict(move=spaces.Discrete(4, start=-1))}
    composer = StepStateActionCriticComposer(observations(), actions)
    network = composer.networks[0][0]
    assert isinstance(network, FlattenConcatQValuesNet) and network.hidden_units == [256, 256]
    assert any(isinstance(layer, nn.ReLU) for layer in network.latent_net)
    policy = QGreedyPolicy(composer.critic)
    obs = sampled(observations()[0], (8,))
    q = composer.critic.q_values(obs)[0]
    assert np.array_equal(policy.compute_action(obs)["move"], q.argmax(-1).numpy() - 1)
    assert torch.equal(composer.critic.q_value(obs, {"move": np.full(8, -1)})[0], q[:, 0])
    box_net = StepStateActionCriticComposer(observations(), {0: TWO_BOXES}).networks[0][0]
    assert isinstance(box_net, FlattenConcatStateActionValueNet) and box_net.action_shapes == {
        "steer": (2,),
        "gas": (3, 1),
    }


@pytest.mark.parametrize("actions", [DISCRETE, TWO_BOXES], ids=["discrete", "boxes"])
def test_twin_critics_start_different_and_are_independent_parameters(actions):
    composer = critic_for(actions, n_critics=2)
    critic = composer.critic
    first, second = critic.networks[0]
    assert critic.n_critics == 2 and first is not second
    assert not torch.equal(next(first.parameters()), next(second.parameters()))
    n_params = sum(1 for _ in first.parameters())
    assert len(list(critic.parameters())) == 2 * n_params  # no parameter shared
    obs, action = sampled(observations()[0], (4,)), sampled(actions, (4,), seed=3)
    q = critic.q_value(obs, action)
    assert not torch.equal(q[0], q[1])
    q[0].sum().backward()
    assert all(p.grad is not None for p in first.parameters())
    assert all(p.grad is None or not p.grad.any() for p in second.parameters())
    target = copy.deepcopy(critic)  # a target copy: equal values, its own weights
    torch.testing.assert_close(target.q_value(obs, action), q)
    assert not any(p is t for p, t in zip(critic.parameters(), target.parameters(), strict=True))


def test_step_critics_have_networks_per_step_key_shared_ones_one_set():
    obs = {0: spaces.Dict(observation=box(4)), 1: spaces.Dict(observation=box(4), extra=box(2))}
    step = StepStateActionCriticComposer(obs, {0: DISCRETE, 1: TWO_BOXES}, networks=[None, None], n_critics=2)
    assert isinstance(step.critic, TorchStepStateActionCritic) and list(step.critic.networks) == [0, 1]
    assert step.critic.q_values(sampled(obs[0], (3,)), actor_id=(0, 0)).shape == (2, 3, 3)
    assert step.critic.q_value(sampled(obs[1], (3,)), sampled(TWO_BOXES, (3,)), (1, 0)).shape == (2, 3)

    shared = SharedStateActionCriticComposer(obs, {0: DISCRETE, 1: DISCRETE}, n_critics=2)
    critic = shared.critic
    assert isinstance(critic, TorchSharedStateActionCritic) and list(critic.networks) == [0]
    assert len(critic.networks[0]) == 2
    # step key 0 does not see "extra": filled in with zeros
    one = sampled(obs[0], (3,))
    full = {**one, "extra": np.zeros((3, 2), np.float32)}
    torch.testing.assert_close(critic.q_values(one, actor_id=(0, 0)), critic.q_values(full))
    assert isinstance(shared, BaseStateActionCriticComposer) and not isinstance(
        shared, BaseStateCriticComposer
    )


@pytest.mark.parametrize(
    "actions, expected",
    [
        (spaces.Dict(action=spaces.MultiDiscrete([2, 3])), "MultiDiscrete"),
        (spaces.Dict(a=spaces.Discrete(2), b=box(2)), "Discrete"),
        (spaces.Dict(a=spaces.Discrete(2), b=spaces.Discrete(3)), "Discrete"),
    ],
    ids=["multi-discrete", "mixed", "two-discrete-heads"],
)
def test_unsupported_action_spaces_are_one_line_errors(actions, expected):
    for composer in (StepStateActionCriticComposer, SharedStateActionCriticComposer):
        with pytest.raises(ConfigurationError) as error:
            composer(observations(), {0: actions})
        message = str(error.value)
        assert "\n" not in message and "step key 0" in message and expected in message
        assert "exactly one Discrete head" in message and "Box heads" in message


class WrongKey(nn.Module):
    def __init__(self, obs_shapes, n_actions):
        super().__init__()
        self.linear = nn.Linear(4, n_actions)

    def forward(self, obs):
        return {"value": self.linear(obs["observation"])}


class WrongShape(nn.Module):
    def __init__(self, obs_shapes, action_shapes):
        super().__init__()
        self.linear = nn.Linear(6, 2)

    def forward(self, inputs):
        return {"q_value": self.linear(torch.cat([inputs["observation"], inputs["action"]], -1))}


@pytest.mark.parametrize(
    "actions, network, n_critics, expected",
    [
        (DISCRETE, WrongKey, 1, r"returned keys \['value'\] but must return exactly \['q_values'\]"),
        (ONE_BOX, WrongShape, 2, r"critic 0 \(WrongShape\) returned 'q_value' of shape \(2, 2\).*\(2, 1\)"),
        (
            DISCRETE,
            FlattenConcatQValuesNet({"observation": (4,)}, 3),
            2,
            "one FlattenConcatQValuesNet instance",
        ),
        (DISCRETE, nn.ModuleList([FlattenConcatQValuesNet({"observation": (4,)}, 3)]), 2, "ModuleList of 1"),
    ],
    ids=["wrong-key", "wrong-shape", "one-instance-for-twins", "module-list-too-short"],
)
def test_wrong_networks_are_one_line_errors(actions, network, n_critics, expected):
    with pytest.raises(ConfigurationError, match=expected) as error:
        StepStateActionCriticComposer(observations(), {0: actions}, networks=[network], n_critics=n_critics)
    assert "\n" not in str(error.value) and "step key 0" in str(error.value)


def test_given_networks_are_used_and_composer_arguments_are_checked():
    nets = nn.ModuleList([FlattenConcatQValuesNet({"observation": (4,)}, 3, **SMALL) for _ in range(2)])
    critic = StepStateActionCriticComposer(observations(), {0: DISCRETE}, networks=nets, n_critics=2).critic
    assert critic.networks[0] is nets
    with pytest.raises(ConfigurationError, match="n_critics=0"):
        StepStateActionCriticComposer(observations(), {0: DISCRETE}, n_critics=0)
    with pytest.raises(ConfigurationError, match=r"action heads \['observation'\] are named like"):
        StepStateActionCriticComposer(observations(), {0: spaces.Dict(observation=box(2))})


def test_shared_critic_needs_equal_action_spaces():
    with pytest.raises(ConfigurationError) as error:
        SharedStateActionCriticComposer(
            observations(2), {0: DISCRETE, 1: spaces.Dict(action=spaces.Discrete(4))}
        )
    message = str(error.value)
    assert "\n" not in message and "step key 1" in message and "StepStateActionCriticComposer" in message


def test_greedy_policy_acts_with_the_argmax_and_explores_with_epsilon():
    critic = critic_for(DISCRETE, n_critics=2).critic
    obs = sampled(observations()[0], (64,))
    greedy = critic.q_values(obs)[0].argmax(-1).numpy()
    policy = QGreedyPolicy(critic)
    assert np.array_equal(policy.compute_action(obs)["action"], greedy)
    assert policy.compute_action({k: v[0] for k, v in obs.items()})["action"].shape == ()

    policy.epsilon = 1.0
    assert np.array_equal(policy.compute_action(obs, deterministic=True)["action"], greedy)
    single = {k: v[:1] for k, v in obs.items()}
    assert {int(policy.compute_action(single)["action"][0]) for _ in range(60)} == {0, 1, 2}

    policy.epsilon = 0.3
    torch.manual_seed(5)
    first = [policy.sample_action(obs)[0]["action"] for _ in range(3)]
    torch.manual_seed(5)
    again = [policy.sample_action(obs)[0]["action"] for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a, greedy) for a in first)
    with pytest.raises(ConfigurationError, match=r"epsilon=1.5: must be in \[0, 1\]"):
        policy.epsilon = 1.5


def test_sample_action_log_probs_are_those_of_the_epsilon_greedy_distribution():
    critic = critic_for(DISCRETE).critic
    policy = QGreedyPolicy(critic, epsilon=0.3)
    obs = sampled(observations()[0], (200,))
    greedy = critic.q_values(obs)[0].argmax(-1).numpy()
    actions, latents, log_prob = policy.sample_action(obs)
    assert latents == {} and log_prob.shape == (200,) and log_prob.dtype == np.float32
    is_greedy = actions["action"] == greedy
    assert is_greedy.any() and not is_greedy.all()
    np.testing.assert_allclose(log_prob[is_greedy], math.log(0.7 + 0.1), rtol=1e-6)
    np.testing.assert_allclose(log_prob[~is_greedy], math.log(0.1), rtol=1e-6)
    assert policy.sample_action(obs, log_prob=False)[2] is None
    policy.epsilon = 0.0
    assert np.all(policy.sample_action(obs)[2] == 0.0)


def test_greedy_policy_needs_a_discrete_state_action_critic():
    with pytest.raises(ConfigurationError, match="Box heads"):
        QGreedyPolicy(critic_for(ONE_BOX).critic)
    state_critic = StepStateCriticComposer(observations()).critic
    with pytest.raises(ConfigurationError, match="TorchStateActionCritic"):
        QGreedyPolicy(state_critic)


def test_actor_critic_with_a_greedy_policy_round_trips_its_state_dict():
    critic = critic_for(DISCRETE, n_critics=2).critic
    model = TorchActorCritic(QGreedyPolicy(critic), critic)
    assert list(model.parameters()) == list(critic.parameters())
    state = model.state_dict()
    assert state["policies"] == {} and list(state["critics"]) == [0]

    other_critic = critic_for(DISCRETE, n_critics=2).critic
    other = TorchActorCritic(QGreedyPolicy(other_critic), other_critic)
    obs = sampled(observations()[0], (8,))
    assert not torch.equal(other.critic.q_values(obs), critic.q_values(obs))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(other.critic.q_values(obs), critic.q_values(obs))
    # a copy of the policy alone (RunContext keeps the best one so) loads its critic from a full state dict
    policy = copy.deepcopy(model.policy)
    assert policy.critic is not critic and policy.state_dict() == {"policies": {}}
    fresh = critic_for(DISCRETE, n_critics=2).critic
    policy.load_state_dict({"policies": {}, **fresh.state_dict()})
    assert torch.equal(policy.critic.q_values(obs), fresh.q_values(obs))
    policy.load_state_dict({})  # its own state dict: nothing to load
    policy.eval()
    assert not policy.training and model.critic.networks[0].training

    with pytest.raises(ConfigurationError, match="another critic"):
        TorchActorCritic(QGreedyPolicy(other_critic), critic)
    # a probabilistic policy with a Q(s, a) critic (SAC's model)
    box_critic = critic_for(TWO_BOXES, n_critics=2).critic
    policy = ProbabilisticPolicyComposer({0: TWO_BOXES}, observations()).policy
    assert TorchActorCritic(policy, box_critic).critic is box_critic


def test_composers_are_registered():
    assert plugins.load("critic", "step_state_action") is StepStateActionCriticComposer
    assert plugins.load("critic", "shared_state_action") is SharedStateActionCriticComposer
    assert plugins.load("policy", "q_greedy") is QGreedyPolicyComposer
    critic = critic_for(DISCRETE).critic
    composer = QGreedyPolicyComposer({0: DISCRETE}, observations(), critic=critic)
    assert isinstance(composer.policy, QGreedyPolicy) and composer.policy.critic is critic
    assert composer.policy is composer.policy and composer.networks == {}
    for actions, bad, expected in [
        (DISCRETE, None, "got no critic"),
        (ONE_BOX, critic_for(ONE_BOX).critic, "Box heads"),
        (DISCRETE, StepStateCriticComposer(observations()).critic, "got a TorchStepStateCritic"),
    ]:
        with pytest.raises(ConfigurationError, match=expected) as error:
            QGreedyPolicyComposer({0: actions}, observations(), critic=bad)
        assert "\n" not in str(error.value)
    with pytest.raises(ConfigurationError, match="build the critic for the same env"):
        QGreedyPolicyComposer({0: spaces.Dict(action=spaces.Discrete(5))}, observations(), critic=critic)

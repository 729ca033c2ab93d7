"""Policy and critic composers, TorchPolicy, critics and TorchActorCritic, built as the tutorial does and
from defaults, for single- and multi-step envs; network validation messages."""

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from gymnasium import spaces
from maze_critics import SharedStateCriticComposer, StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer
from models.tutorial_nets import CartpolePolicyNet, CartpoleValueNet
from torch import nn

from maze_core import DistributionMapper, GymMazeEnv, TorchActorCritic, TorchModelBlock
from maze_core.agent import TorchPolicy, TorchSharedStateCritic, TorchStepStateCritic
from maze_core.distributions import (
    DiagonalGaussianProbabilityDistribution,
    SquashedGaussianProbabilityDistribution,
)
from maze_core.errors import ConfigurationError
from maze_core.perception import FlattenConcatPolicyNet, FlattenConcatStateValueNet


@pytest.fixture(scope="module")
def cartpole():
    return GymMazeEnv(env="CartPole-v1")


def box(*shape, low=-1.0, high=1.0):
    return spaces.Box(low, high, shape=shape, dtype=np.float32)


def tutorial_composers(env):
    """The tutorial's full script, model part."""
    policy_net = CartpolePolicyNet(
        obs_shapes={"observation": env.observation_space.spaces["observation"].shape},
        action_logit_shapes={"action": (env.action_space.spaces["action"].n,)},
    )
    distribution_mapper = DistributionMapper(action_space=env.action_space, distribution_mapper_config={})
    policy_composer = ProbabilisticPolicyComposer(
        action_spaces_dict=env.action_spaces_dict,
        observation_spaces_dict=env.observation_spaces_dict,
        distribution_mapper=distribution_mapper,
        networks=[policy_net],
        substeps_with_separate_agent_nets=[],
        agent_counts_dict={0: 1},
    )
    value_networks = {
        0: TorchModelBlock(
            in_keys="observation",
            out_keys="value",
            in_shapes=env.observation_space.spaces["observation"].shape,
            in_num_dims=[2],
            out_num_dims=2,
            net=CartpoleValueNet({"observation": env.observation_space.spaces["observation"].shape}),
        )
    }
    critic_composer = SharedStateCriticComposer(
        observation_spaces_dict=env.observation_spaces_dict,
        agent_counts_dict={0: 1},
        networks=value_networks,
        stack_observations=True,
    )
    return policy_net, policy_composer, value_networks, critic_composer


def test_tutorial_composers_use_the_given_networks(cartpole):
    policy_net, policy_composer, value_networks, critic_composer = tutorial_composers(cartpole)
    policy, critic = policy_composer.policy, critic_composer.critic
    assert isinstance(policy, TorchPolicy) and isinstance(critic, TorchSharedStateCritic)
    assert policy.networks == {0: policy_net} and policy.network_for(None) is policy_net
    assert critic.networks == {0: value_networks[0]}
    assert policy_composer.policy is policy  # one policy object, not a new one per access

    obs, _ = cartpole.reset(seed=0)
    action = policy.compute_action(obs, actor_id=cartpole.actor_id(), deterministic=False)
    assert action["action"].shape == () and cartpole.action_space.contains(action)
    cartpole.step(action)
    assert critic.predict_value(obs).shape == ()


def test_tutorial_policy_net_wrapped_in_a_torch_model_block(cartpole):
    policy_net = TorchModelBlock(
        in_keys="observation",
        out_keys="action",
        in_shapes=cartpole.observation_space.spaces["observation"].shape,
        in_num_dims=[2],
        out_num_dims=2,
        net=CartpolePolicyNet({"observation": (4,)}, {"action": (2,)}),
    )
    composer = ProbabilisticPolicyComposer(
        action_spaces_dict=cartpole.action_spaces_dict,
        observation_spaces_dict=cartpole.observation_spaces_dict,
        distribution_mapper=DistributionMapper(cartpole.action_space),
        networks={0: policy_net},
        substeps_with_separate_agent_nets=[],
        agent_counts_dict={0: 1},
    )
    assert composer.policy.compute_action({"observation": np.zeros((3, 5, 4), np.float32)})[
        "action"
    ].shape == (3, 5)


def test_defaults_for_cartpole(cartpole):
    policy = ProbabilisticPolicyComposer(
        action_spaces_dict=cartpole.action_spaces_dict,
        observation_spaces_dict=cartpole.observation_spaces_dict,
        agent_counts_dict=cartpole.agent_counts_dict,
    ).policy
    critic = StepStateCriticComposer(
        observation_spaces_dict=cartpole.observation_spaces_dict, agent_counts_dict=cartpole.agent_counts_dict
    ).critic
    assert isinstance(policy.networks[0], FlattenConcatPolicyNet)
    assert isinstance(critic, TorchStepStateCritic) and isinstance(
        critic.networks[0], FlattenConcatStateValueNet
    )
    assert policy.networks[0] is not critic.networks[0]
    assert policy.networks[0].hidden_units == [256, 256]


@pytest.mark.parametrize("batch_shape", [(), (8,), (5, 8)], ids=["unbatched", "batched", "time-x-envs"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
def test_compute_action_keeps_the_batch_shape_and_leaves_the_input_alone(cartpole, batch_shape, as_tensor):
    _, policy_composer, _, critic_composer = tutorial_composers(cartpole)
    array = np.random.default_rng(0).normal(size=(*batch_shape, 4)).astype(np.float32)
    obs = {"observation": torch.from_numpy(array.copy()) if as_tensor else array.copy()}
    original_value = obs["observation"]
    for deterministic in (False, True):
        action = policy_composer.policy.compute_action(obs, deterministic=deterministic)
        assert isinstance(action["action"], np.ndarray) and action["action"].shape == batch_shape
    assert list(obs) == ["observation"] and obs["observation"] is original_value
    assert np.array_equal(np.asarray(obs["observation"]), array)
    assert critic_composer.critic.predict_value(obs).shape == batch_shape


def test_deterministic_actions_are_the_mode(cartpole):
    policy = ProbabilisticPolicyComposer(cartpole.action_spaces_dict, cartpole.observation_spaces_dict).policy
    obs = {"observation": np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)}
    logits = policy.compute_logits(obs)["action"]
    assert np.array_equal(policy.compute_action(obs, deterministic=True)["action"], logits.argmax(-1).numpy())


def test_distribution_has_gradients_and_the_batch_shape(cartpole):
    policy = ProbabilisticPolicyComposer(cartpole.action_spaces_dict, cartpole.observation_spaces_dict).policy
    obs = {"observation": torch.randn(5, 8, 4)}
    distribution = policy.distribution(obs, actor_id=(0, 0))
    actions = {"action": torch.as_tensor(policy.compute_action(obs)["action"])}
    log_prob, entropy = distribution.log_prob(actions), distribution.entropy()
    assert log_prob.shape == (5, 8) and entropy.shape == (5, 8)
    (log_prob.mean() + entropy.mean()).backward()
    assert all(p.grad is not None for p in policy.parameters())


@pytest.mark.parametrize(
    "config, expected",
    [
        ({}, DiagonalGaussianProbabilityDistribution),
        (
            [{"action_space": spaces.Box, "distribution": "squashed_gaussian"}],
            SquashedGaussianProbabilityDistribution,
        ),
    ],
)
def test_box_actions_for_pendulum(config, expected):
    env = GymMazeEnv("Pendulum-v1")
    mapper = DistributionMapper(env.action_space, config)
    composer = ProbabilisticPolicyComposer(env.action_spaces_dict, env.observation_spaces_dict, mapper)
    assert composer.action_logits_shapes == {0: {"action": (2,)}}
    obs, _ = env.reset(seed=0)
    policy = composer.policy
    assert type(policy.distribution(obs)["action"]) is expected
    action = policy.compute_action(obs)
    assert action["action"].shape == (1,) and action["action"].dtype == np.float32
    env.step(action)
    batch = policy.compute_action({"observation": np.zeros((500, 3), np.float32)})["action"]
    if expected is SquashedGaussianProbabilityDistribution:
        assert ((batch >= -2.0) & (batch <= 2.0)).all()
    env.close()


def test_dict_action_space():
    action_space = spaces.Dict(choice=spaces.Discrete(3), force=box(2), switches=spaces.MultiBinary(2))
    obs_space = spaces.Dict(position=box(3), grid=box(2, 4))
    composer = ProbabilisticPolicyComposer({0: action_space}, {0: obs_space})
    assert composer.action_logits_shapes[0] == {"choice": (3,), "force": (4,), "switches": (2,)}
    # without a mapper, bounded Box heads get squashed Gaussians, so actions stay inside the space
    assert composer.distribution_mapper.distribution_class("force") is SquashedGaussianProbabilityDistribution
    policy = composer.policy
    actions = policy.compute_action(
        {"position": np.zeros(3, np.float32), "grid": np.zeros((2, 4), np.float32)}
    )
    assert action_space.contains(actions)
    batch = {"position": torch.zeros(7, 3), "grid": torch.zeros(7, 2, 4)}
    distribution = policy.distribution(batch)
    sampled = distribution.sample()
    assert distribution.log_prob(sampled).shape == (7,)
    torch.testing.assert_close(
        distribution.log_prob(sampled), sum(distribution.log_prob_dict(sampled).values())
    )


TWO_STEP_ACTIONS = {0: spaces.Dict(pick=spaces.Discrete(2)), 1: spaces.Dict(amount=box(1))}
TWO_STEP_OBS = {0: spaces.Dict(value=box(1)), 1: spaces.Dict(value=box(1), picked=box(2))}


def test_two_step_keys_with_different_spaces():
    composer = ProbabilisticPolicyComposer(
        TWO_STEP_ACTIONS,
        TWO_STEP_OBS,
        networks=[
            FlattenConcatPolicyNet,
            {"_target_": "maze_core.perception.FlattenConcatPolicyNet", "hidden_units": [8]},
        ],
    )
    policy = composer.policy
    assert set(policy.distribution_mapper.action_heads) == {"pick", "amount"}
    assert policy.networks[1].hidden_units == [8]
    assert policy.compute_action({"value": np.zeros(1, np.float32)}, actor_id=(0, 0))["pick"].shape == ()
    step_1 = {"value": np.zeros((4, 1), np.float32), "picked": np.zeros((4, 2), np.float32)}
    assert policy.compute_action(step_1, actor_id=(1, 0))["amount"].shape == (4, 1)
    with pytest.raises(ValueError, match="pass actor_id"):
        policy.compute_action(step_1)

    critic = StepStateCriticComposer(TWO_STEP_OBS, {0: 1, 1: 1}).critic
    assert critic.predict_value(step_1, actor_id=(1, 0)).shape == (4,)
    shared = SharedStateCriticComposer(TWO_STEP_OBS, {0: 1, 1: 1}, stack_observations=True)
    assert shared.shared_obs_shapes == {"value": (2, 1), "picked": (2,)}
    values = shared.critic.predict_values({(0, 0): {"value": torch.zeros(4, 1)}, (1, 0): step_1})
    assert values[(0, 0)].shape == (4,) and values[(0, 0)] is values[(1, 0)]


def test_separate_networks_per_agent():
    action_spaces = {0: spaces.Dict(pick=spaces.Discrete(2)), 1: spaces.Dict(move=spaces.Discrete(4))}
    obs_spaces = {0: spaces.Dict(state=box(2)), 1: spaces.Dict(state=box(2))}
    composer = ProbabilisticPolicyComposer(
        action_spaces, obs_spaces, substeps_with_separate_agent_nets=[1], agent_counts_dict={0: 1, 1: 3}
    )
    policy = composer.policy
    assert list(policy.networks) == [0, (1, 0), (1, 1), (1, 2)]
    assert len({id(net) for net in policy.networks.values()}) == 4
    assert policy.network_for((1, 2)) is policy.networks[(1, 2)]
    assert policy.network_for((0, 0)) is policy.networks[0]
    obs = {"state": np.zeros((6, 2), np.float32)}
    assert policy.compute_action(obs, actor_id=(1, 1))["move"].shape == (6,)
    with pytest.raises(KeyError, match="no network for actor"):
        policy.network_for((1, 3))

    instances = {
        0: None,
        **{(1, a): FlattenConcatPolicyNet({"state": (2,)}, {"move": (4,)}) for a in range(3)},
    }
    given = ProbabilisticPolicyComposer(
        action_spaces,
        obs_spaces,
        networks=instances,
        substeps_with_separate_agent_nets=[1],
        agent_counts_dict={0: 1, 1: 3},
    )
    assert all(given.policy.networks[(1, a)] is instances[(1, a)] for a in range(3))


def test_one_instance_for_separately_networked_agents_is_an_error():
    action_spaces = {0: spaces.Dict(pick=spaces.Discrete(2)), 1: spaces.Dict(move=spaces.Discrete(4))}
    obs_spaces = {0: spaces.Dict(state=box(2)), 1: spaces.Dict(state=box(2))}
    with pytest.raises(ConfigurationError) as error:
        ProbabilisticPolicyComposer(
            action_spaces,
            obs_spaces,
            networks={0: None, 1: FlattenConcatPolicyNet({"state": (2,)}, {"move": (4,)})},
            substeps_with_separate_agent_nets=[1],
            agent_counts_dict={0: 1, 1: 3},
        )
    message = str(error.value)
    assert "substeps_with_separate_agent_nets" in message and "its own network" in message
    assert "(1, 0), (1, 1), (1, 2)" in message


class WrongLogits(nn.Module):
    def __init__(self, obs_shapes, action_logits_shapes):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return {"action": self.linear(x["observation"])}


class Raises(nn.Module):
    def forward(self, x):
        return {"action": x["position"]}


@pytest.mark.parametrize(
    "network, expected",
    [
        (
            WrongLogits,
            ["WrongLogits", "step key 0", "'action' of shape (2, 3)", "expected (2, 2)", "Categorical"],
        ),
        (
            lambda obs_shapes, action_logits_shapes: nn.Identity(),
            ["Identity", "missing ['action']", "unexpected ['observation']"],
        ),
        (Raises(), ["Raises", "step key 0", "failed on a sampled batch", "KeyError", "'position'"]),
        (nn.Linear(4, 2), ["Linear", "failed on a sampled batch"]),
        (lambda obs_shapes: None, ["does not take the argument 'action_logits_shapes'"]),
    ],
    ids=["wrong-logits-shape", "wrong-keys", "forward-raises", "not-dict-in", "wrong-constructor"],
)
def test_a_wrong_policy_network_fails_at_construction_with_a_clear_message(cartpole, network, expected):
    with pytest.raises(ConfigurationError) as error:
        ProbabilisticPolicyComposer(
            cartpole.action_spaces_dict, cartpole.observation_spaces_dict, networks=[network]
        )
    for part in expected:
        assert part in str(error.value)


class VectorValue(nn.Module):
    def __init__(self, obs_shapes):
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, x):
        return {"value": self.linear(x["observation"])[..., 0]}


@pytest.mark.parametrize("composer", [SharedStateCriticComposer, StepStateCriticComposer])
def test_a_value_network_must_return_value_with_a_trailing_dim(cartpole, composer):
    with pytest.raises(ConfigurationError) as error:
        composer(cartpole.observation_spaces_dict, {0: 1}, networks=[VectorValue])
    assert "VectorValue" in str(error.value) and "'value' of shape (2,)" in str(error.value)
    assert "expected (2, 1)" in str(error.value)


def test_a_mapper_missing_a_step_keys_head_is_an_error():
    mapper = DistributionMapper(TWO_STEP_ACTIONS[0])
    with pytest.raises(ConfigurationError, match="no action head 'amount'"):
        ProbabilisticPolicyComposer(TWO_STEP_ACTIONS, TWO_STEP_OBS, distribution_mapper=mapper)


def test_networks_for_unknown_or_missing_step_keys_are_errors():
    with pytest.raises(ConfigurationError, match="not step keys"):
        ProbabilisticPolicyComposer(TWO_STEP_ACTIONS, TWO_STEP_OBS, networks={0: None, 1: None, 2: None})
    with pytest.raises(ConfigurationError, match="no entry for step keys \\[1\\]"):
        ProbabilisticPolicyComposer(TWO_STEP_ACTIONS, TWO_STEP_OBS, networks=[None])


def test_actor_critic_state_dict_round_trip(cartpole):
    _, policy_composer, _, critic_composer = tutorial_composers(cartpole)
    model = TorchActorCritic(policy_composer.policy, critic_composer.critic, device="cpu")
    assert len(list(model.parameters())) == 4
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert set(state) == {"policies", "critics"}

    _, other_policy, _, other_critic = tutorial_composers(cartpole)
    other = TorchActorCritic(other_policy.policy, other_critic.critic)
    other.load_state_dict(state)
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)
    other.eval()
    assert not other.policy.networks[0].training and not other.critic.networks[0].training
    other.train()
    assert other.policy.networks[0].training


def test_shared_critic_stacks_the_observations_of_several_agents():
    obs_spaces = {0: spaces.Dict(state=box(2))}
    composer = SharedStateCriticComposer(obs_spaces, {0: 2}, stack_observations=True)
    assert composer.shared_obs_shapes == {"state": (2, 2)}
    critic = composer.critic
    values = critic.predict_values(
        {(0, 0): {"state": torch.zeros(5, 2)}, (0, 1): {"state": torch.ones(5, 2)}}
    )
    assert values[(0, 0)].shape == (5,)
    assert critic.predict_value({"state": torch.zeros(3, 5, 2, 2)}).shape == (3, 5)


def test_importing_the_plugins_does_not_import_torch():
    code = (
        "import sys, maze_policies.plugin, maze_critics.plugin, maze_policies, maze_critics; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_a_mapper_only_bounded_boxes_are_squashed():
    action_space = spaces.Dict(bounded=box(2), unbounded=box(2, low=-np.inf, high=np.inf))
    mapper = ProbabilisticPolicyComposer({0: action_space}, {0: spaces.Dict(x=box(3))}).distribution_mapper
    assert mapper.distribution_class("bounded") is SquashedGaussianProbabilityDistribution
    assert mapper.distribution_class("unbounded") is DiagonalGaussianProbabilityDistribution


def test_float64_and_read_only_observations(cartpole, recwarn):
    policy = ProbabilisticPolicyComposer(cartpole.action_spaces_dict, cartpole.observation_spaces_dict).policy
    observation = np.zeros((3, 4))  # float64
    observation.flags.writeable = False
    assert policy.compute_action({"observation": observation})["action"].shape == (3,)
    assert policy.compute_action({"observation": [0.0, 0.1, 0.2, 0.3]})["action"].shape == ()
    assert not [w for w in recwarn if "maze" in str(w.filename) or "writable" in str(w.message)]


def test_value_network_specs_and_state_dict_forms(cartpole):
    composer = StepStateCriticComposer(
        cartpole.observation_spaces_dict,
        networks={0: {"_target_": "maze_core.perception.FlattenConcatStateValueNet", "hidden_units": [16]}},
    )
    critic = composer.critic
    assert critic.networks[0].hidden_units == [16]
    state = critic.state_dict()
    critic.load_state_dict(state["critics"])  # the inner dict works too
    with pytest.raises(KeyError, match="lacks the networks \\[0\\]"):
        critic.load_state_dict({"critics": {}})


def test_shared_critic_values_one_actors_observation_by_filling_in_zeros():
    critic = SharedStateCriticComposer(TWO_STEP_OBS, {0: 1, 1: 1}).critic
    step_0 = critic.predict_value({"value": torch.ones(5, 3, 1)}, actor_id=(0, 0))
    full = critic.predict_value({"value": torch.ones(5, 3, 1), "picked": torch.zeros(5, 3, 2)})
    assert step_0.shape == (5, 3)
    torch.testing.assert_close(step_0, full)

    stacked = SharedStateCriticComposer(
        {0: spaces.Dict(state=box(2))}, {0: 2}, stack_observations=True
    ).critic
    observation = torch.randn(4, 2)
    second_agent = stacked.predict_value({"state": observation}, actor_id=(0, 1))
    slots = torch.stack([torch.zeros(4, 2), observation], dim=1)
    torch.testing.assert_close(second_agent, stacked.predict_value({"state": slots}))


def test_network_specs_in_the_original_config_style(cartpole):
    spec = {
        "_target_": "maze.perception.models.built_in.flatten_concat.FlattenConcatPolicyNet",
        "hidden_units": [32, 32],
        "non_lin": "torch.nn.ReLU",
    }
    composer = ProbabilisticPolicyComposer(
        cartpole.action_spaces_dict, cartpole.observation_spaces_dict, networks=[spec]
    )
    network = composer.policy.networks[0]
    assert isinstance(network, FlattenConcatPolicyNet) and isinstance(network.latent_net[1], nn.ReLU)


@pytest.mark.parametrize("composer", [StepStateCriticComposer, SharedStateCriticComposer])
def test_default_networks_one_hot_encode_discrete_observations(composer):
    from dummy_envs import SpacesGymEnv

    from maze_core.env import GymMazeEnv

    env = GymMazeEnv(SpacesGymEnv(spaces.Discrete(5, start=2), spaces.Discrete(2)))
    policy = ProbabilisticPolicyComposer(env.action_spaces_dict, env.observation_spaces_dict).policy
    critic = composer(env.observation_spaces_dict).critic
    for network in (policy.networks[0], critic.networks[0]):
        assert network.latent_net[0].in_features == 5  # one input per value, not the value as a number
        every_value = torch.arange(2, 7)
        torch.testing.assert_close(
            network.latent({"observation": every_value}), network.latent_net(torch.eye(5))
        )
    observation, _ = env.reset(seed=0)
    assert policy.compute_action(observation)["action"].shape == ()
    assert critic.predict_value(observation).shape == ()

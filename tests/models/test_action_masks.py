"""Action masks: from the observation to the distribution (never an invalid action; log-probs and
entropy of the renormalised distribution), the greedy Q policy and DQN's target, the gymnasium
``action_masks()`` wrapper, and what networks and normalization leave alone."""

import math

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from maze_critics import StepStateActionCriticComposer
from maze_policies import ProbabilisticPolicyComposer

from maze_core.agent import QGreedyPolicy
from maze_core.distributions.masks import ActionMaskError, masked_argmax
from maze_core.env import ActionMasksAsObservation, GymMazeEnv
from maze_core.env.normalization import Normalization
from maze_core.errors import ConfigurationError
from maze_core.perception import FlattenConcatPolicyNet, FlattenConcatQValuesNet

N = 100


def masked_space(n=N, action=None):
    action = action or spaces.Discrete(n)
    observation = spaces.Dict(
        observation=spaces.Box(0.0, 1.0, (4,), np.float32),
        action_mask=spaces.MultiBinary(int(np.sum(getattr(action, "nvec", action.shape or [action.n])))),
    )
    return observation, spaces.Dict(action=action)


def policy_for(observation_space, action_space, **kwargs):
    composer = ProbabilisticPolicyComposer(
        {0: action_space},
        {0: observation_space},
        networks=[{"_target_": FlattenConcatPolicyNet, "hidden_units": [16]}],
        **kwargs,
    )
    return composer, composer.policy


def random_masks(batch, n=N, n_valid=5, seed=0):
    rng = np.random.default_rng(seed)
    masks = np.zeros((batch, n), dtype=np.int8)
    for row in masks:
        row[rng.choice(n, n_valid, replace=False)] = 1
    return masks


def observations(masks, seed=0):
    features = np.random.default_rng(seed).random((len(masks), 4), dtype=np.float32)
    return {"observation": features, "action_mask": masks}


def favour_invalid(policy, masks):
    """Make the network's logits prefer the first sample's invalid actions by a wide margin."""
    head = policy.networks[0].heads.layers[0]
    with torch.no_grad():
        head.bias.copy_(torch.as_tensor(1.0 - masks[0], dtype=torch.float32) * 50.0)


def test_100k_sampled_actions_are_all_valid_even_where_the_network_prefers_invalid_ones():
    _, policy = policy_for(*masked_space())
    masks = random_masks(100_000)
    favour_invalid(policy, masks)
    obs = observations(masks)
    for actions in (
        policy.compute_action(obs)["action"],
        policy.compute_action(obs, deterministic=True)["action"],
    ):
        assert masks[np.arange(len(masks)), actions].all()
    sampled, _, log_probs = policy.sample_action(obs)
    assert masks[np.arange(len(masks)), sampled["action"]].all()
    assert np.isfinite(log_probs).all()


def test_log_probs_and_entropy_are_those_of_the_renormalised_categorical():
    _, policy = policy_for(*masked_space())
    masks = random_masks(64, seed=1)
    obs = observations(masks, seed=1)
    raw = (
        policy.networks[0]({key: torch.as_tensor(value, dtype=torch.float32) for key, value in obs.items()})[
            "action"
        ]
        .detach()
        .double()
    )
    actions = torch.as_tensor([np.flatnonzero(row)[i % 5] for i, row in enumerate(masks)])
    distribution = policy.distribution(obs)
    expected_log_probs, expected_entropy = [], []
    for row, (logits, mask) in enumerate(zip(raw, masks, strict=True)):
        valid = np.flatnonzero(mask)
        z = sum(math.exp(logits[a]) for a in valid)
        p = {a: math.exp(logits[a]) / z for a in valid}
        expected_log_probs.append(math.log(p[int(actions[row])]))
        expected_entropy.append(-sum(q * math.log(q) for q in p.values()))
    log_probs = distribution.log_prob({"action": actions})
    assert torch.allclose(
        log_probs.double(), torch.tensor(expected_log_probs, dtype=torch.float64), rtol=0, atol=1e-6
    )
    assert torch.allclose(
        distribution.entropy().double(),
        torch.tensor(expected_entropy, dtype=torch.float64),
        rtol=0,
        atol=1e-5,
    )
    # gradients are finite and reach only the valid actions' logits
    bias = policy.networks[0].heads.layers[0].bias
    one = {key: value[:1] for key, value in obs.items()}
    (gradient,) = torch.autograd.grad(policy.distribution(one).entropy().sum(), bias)
    assert torch.isfinite(gradient).all()
    assert (gradient[masks[0] == 0] == 0).all() and (gradient[masks[0] == 1] != 0).any()


def test_multi_discrete_components_and_multi_binary_bits_are_masked():
    action = spaces.MultiDiscrete([3, 4])
    _, policy = policy_for(*masked_space(action=action))
    masks = np.array([[0, 1, 0, 1, 0, 0, 0]] * 1000, dtype=np.int8)  # component 0: 1; component 1: 0
    actions = policy.compute_action(observations(masks))["action"]
    assert (actions == [1, 0]).all()
    bits = spaces.MultiBinary(6)
    _, policy = policy_for(*masked_space(action=bits))
    masks = np.array([[1, 0, 1, 0, 1, 0]] * 1000, dtype=np.int8)
    actions = policy.compute_action(observations(masks))["action"]
    assert not actions[:, [1, 3, 5]].any() and actions[:, [0, 2, 4]].any()


def test_a_mask_that_allows_no_action_is_one_line_naming_the_sample():
    _, policy = policy_for(*masked_space())
    masks = random_masks(8)
    masks[3] = 0
    with pytest.raises(
        ActionMaskError, match=r"'action_mask' allows no action for sample 3 \(0 of 100"
    ) as error:
        policy.compute_action(observations(masks))
    assert "\n" not in str(error.value)
    multi = spaces.MultiDiscrete([3, 4])
    _, policy = policy_for(*masked_space(action=multi))
    with pytest.raises(ActionMaskError, match="sample 0"):  # component 1 has no valid action
        policy.compute_action(observations(np.array([[1, 1, 1, 0, 0, 0, 0]], dtype=np.int8)))


def test_masks_are_no_network_feature_unless_asked_and_must_fit_their_head():
    composer, _ = policy_for(*masked_space())
    assert composer.obs_shapes[0] == {"observation": (4,)}
    composer, _ = policy_for(*masked_space(), action_masks_as_features=True)
    assert composer.obs_shapes[0] == {"observation": (4,), "action_mask": (N,)}
    observation, action = masked_space(n=7)
    with pytest.raises(
        ConfigurationError, match=r"'action_mask' has shape \(7,\), but head 'action' .* \(9,\)"
    ):
        policy_for(observation, spaces.Dict(action=spaces.Discrete(9)))
    with pytest.raises(ConfigurationError, match="masks apply to Discrete, MultiDiscrete and MultiBinary"):
        policy_for(observation, spaces.Dict(action=spaces.Box(-1, 1, (7,))))


def q_critic(observation_space, action_space):
    composer = StepStateActionCriticComposer(
        {0: observation_space},
        {0: action_space},
        networks=[{"_target_": FlattenConcatQValuesNet, "hidden_units": [16]}],
    )
    return composer.critic


def test_the_greedy_q_policy_acts_and_explores_among_valid_actions_only():
    critic = q_critic(*masked_space())
    with torch.no_grad():  # Q favours invalid actions
        critic.networks[0][0].q_head.bias.copy_(torch.arange(N, dtype=torch.float32))
    masks = random_masks(20_000, seed=2)
    obs = observations(masks)
    for epsilon in (0.0, 1.0):
        policy = QGreedyPolicy(critic, epsilon=epsilon)
        actions, _, log_probs = policy.sample_action(obs)
        assert masks[np.arange(len(masks)), actions["action"]].all()
    greedy = QGreedyPolicy(critic).compute_action(obs, deterministic=True)["action"]
    assert (greedy == [np.flatnonzero(row).max() for row in masks]).all()  # the highest valid Q
    # ε = 1: uniform over the 5 valid actions
    assert np.allclose(log_probs, math.log(1 / 5))


def test_greedy_choices_for_targets_take_the_best_valid_next_action():
    critic = q_critic(*masked_space(n=4))
    with torch.no_grad():
        critic.networks[0][0].q_head.bias.copy_(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    next_obs = observations(np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.int8))
    valid = critic.valid_actions(next_obs, check=False)
    best = masked_argmax(critic.q_values(next_obs)[0], valid)
    assert best[0] == 1  # the highest Q among the valid {0, 1}; a terminal all-false mask picks any
    with pytest.raises(ActionMaskError):
        critic.valid_actions(next_obs)


def test_the_gymnasium_wrapper_puts_action_masks_into_the_observation(masked_choice):
    env = GymMazeEnv(ActionMasksAsObservation(masked_choice.MaskedChoiceEnv(n_actions=10, n_valid=2)))
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "action_mask"} and obs["action_mask"].sum() == 2
    assert env.observation_space["action_mask"] == spaces.MultiBinary(10)
    valid = int(np.flatnonzero(obs["action_mask"])[0])
    obs, reward, *_ = env.step({"action": np.array(valid)})
    assert reward > 0 and obs["action_mask"].sum() == 2
    with pytest.raises(ConfigurationError, match="MountainCarEnv has none"):
        ActionMasksAsObservation(gymnasium.make("MountainCar-v0"))


def test_normalization_leaves_masks_unchanged():
    observation, _ = masked_space()
    observation = spaces.Dict({**observation.spaces, "action_mask": spaces.Box(0, 1, (N,), np.float32)})
    assert set(Normalization({0: observation}).observation_stats[0]) == {"observation"}

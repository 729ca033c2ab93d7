"""Exploration and reparameterised samples on the probabilistic policy: Gaussian action noise (as
TD3 explores), its exploration state, and the differentiable samples SAC and TD3 learn through."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from maze_policies import ProbabilisticPolicyComposer

SPACES = {0: gym.spaces.Dict({"observation": gym.spaces.Box(-1, 1, (3,), np.float32)})}
ACTIONS = {
    0: gym.spaces.Dict({"move": gym.spaces.Box(-2.0, 2.0, (2,), np.float32), "mode": gym.spaces.Discrete(3)})
}


def _policy():
    torch.manual_seed(0)
    return ProbabilisticPolicyComposer(ACTIONS, SPACES).policy


def test_action_noise_adds_scaled_gaussian_noise_to_the_deterministic_action_within_bounds():
    policy = _policy()
    observation = {"observation": np.zeros((20_000, 3), np.float32)}
    deterministic = policy.compute_action(observation, deterministic=True)["move"]
    policy.action_noise = 0.05  # 0.1 in the units of a Box of half-range 2
    actions, latents, log_prob = policy.sample_action(observation, log_prob=False)
    noise = actions["move"] - deterministic
    assert latents == {} and log_prob is None
    assert abs(noise.mean()) < 0.01 and noise.std() == pytest.approx(0.1, rel=0.05)
    assert actions["mode"].dtype == np.int64 and set(np.unique(actions["mode"])) == {0, 1, 2}
    policy.action_noise = 5.0  # far more than the range: clipped into the bounds
    moves = policy.sample_action(observation, log_prob=False)[0]["move"]
    assert moves.min() == -2.0 and moves.max() == 2.0
    with pytest.raises(ValueError, match="cannot use action noise"):
        policy.sample_action(observation, log_prob=True)


def test_the_exploration_state_travels_to_a_copy():
    policy, worker = _policy(), _policy()
    assert policy.exploration_state() == {}
    policy.action_noise = 0.2
    worker.load_exploration_state(policy.exploration_state())
    assert worker.action_noise == 0.2
    worker.load_exploration_state({})
    assert worker.action_noise is None


def test_reparameterised_samples_carry_gradients_and_exact_log_probs():
    policy = _policy()
    observation = {"observation": torch.zeros(5, 3)}
    distribution = policy.distribution(observation)
    move = distribution["move"]
    actions, latents = move.rsample_with_latent()
    assert actions.requires_grad and latents.requires_grad
    assert torch.allclose(actions.detach(), move._to_action(latents.detach()))
    log_prob = move.log_prob_of_latent(latents).sum()
    log_prob.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())
    mode = policy.distribution(observation)["move"]
    assert mode.deterministic_rsample().requires_grad
    assert torch.equal(mode.deterministic_rsample().detach(), mode.deterministic_sample())
    with pytest.raises(TypeError, match="action head 'mode' has a .* no reparameterised samples"):
        policy.distribution(observation).rsample_with_latents()

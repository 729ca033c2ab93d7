"""A Gaussian policy on a bounded Box (Pendulum's Box(-2, 2)): what reaches the env is clipped into
the bounds, while the rollout keeps the unclipped sample and training uses its Gaussian log-prob."""

import math

import gymnasium
import numpy as np
import torch
import torch.distributions as td
from maze_a2c import A2C, A2CAlgorithmConfig
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer
from torch import nn

from maze_core import DistributionMapper, GymMazeEnv, TorchActorCritic
from maze_core.distributions import DiagonalGaussianProbabilityDistribution
from maze_core.env import SequentialVectorEnv
from maze_core.training.rollout import VectorEnvCollector


class RecordedActions(gymnasium.Wrapper):
    """Keeps every action the gymnasium env is stepped with."""

    def __init__(self, env):
        super().__init__(env)
        self.actions = []

    def step(self, action):
        self.actions.append(np.array(action))
        return super().step(action)


class ConstantLogits(nn.Module):
    """Mean 0 and log std 1 for every observation."""

    def __init__(self, obs_shapes=None, action_logits_shapes=None):
        super().__init__()
        self.logits = nn.Parameter(torch.tensor([0.0, 1.0]))

    def forward(self, obs):
        return {"action": self.logits.expand(*obs["observation"].shape[:-1], 2)}


def _gaussian_policy_model(env):
    mapper = DistributionMapper(env.action_space)  # the plain Gaussian for every Box
    policy = ProbabilisticPolicyComposer(
        env.action_spaces_dict, env.observation_spaces_dict, mapper, networks={0: ConstantLogits()}
    ).policy
    assert isinstance(
        policy.distribution({"observation": np.zeros(3, np.float32)})["action"],
        DiagonalGaussianProbabilityDistribution,
    )
    critic = StepStateCriticComposer(env.observation_spaces_dict, {0: 1}).critic
    return TorchActorCritic(policy, critic)


def test_pendulum_gets_clipped_actions_and_training_the_unclipped_samples_log_prob():
    recorded = RecordedActions(gymnasium.make("Pendulum-v1"))
    env = GymMazeEnv(recorded)
    model = _gaussian_policy_model(env)
    torch.manual_seed(0)
    vector_env = SequentialVectorEnv([lambda: env])
    rollout = VectorEnvCollector(vector_env, seed=0).collect(model, 300)
    vector_env.close()

    sent = np.stack(recorded.actions)
    assert sent.shape == (300, 1)
    assert ((sent >= -2) & (sent <= 2)).all()
    (transitions,) = rollout.actors.values()
    stored, latents = transitions.actions["action"], transitions.latents["action"]
    assert (latents.abs() > 2).float().mean() > 0.4  # log std 1: about half the samples lie outside
    assert torch.equal(stored, latents.clamp(-2, 2))
    np.testing.assert_array_equal(stored[:, 0].numpy(), sent)
    gaussian_log_prob = td.Normal(0.0, math.e).log_prob(latents).sum(-1)
    torch.testing.assert_close(rollout.log_probs, gaussian_log_prob)
    with torch.no_grad():
        log_probs, _, _ = A2C(A2CAlgorithmConfig(), model=model, collector=None).evaluate_actions(rollout)
    torch.testing.assert_close(log_probs, gaussian_log_prob)


def test_compute_action_keeps_a_gaussian_inside_the_bounds():
    env = GymMazeEnv("Pendulum-v1")
    policy = _gaussian_policy_model(env).policy
    observations = {"observation": np.zeros((2000, 3), np.float32)}
    actions = policy.compute_action(observations)["action"]
    assert actions.shape == (2000, 1) and (np.abs(actions) <= 2).all() and (np.abs(actions) == 2).mean() > 0.4
    with torch.no_grad():
        policy.networks[0].logits.copy_(torch.tensor([3.0, 0.0]))  # a mean outside the bounds
    assert (policy.compute_action(observations, deterministic=True)["action"] == 2).all()
    env.close()

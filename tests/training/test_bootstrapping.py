"""The trainer feeds GAE the right next values: after the rollout, and at truncations."""

import gymnasium as gym
import pytest
import torch
from dummy_models import ObservedValue
from maze_a2c import A2C, A2CAlgorithmConfig
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer

from maze_core.agent import TorchActorCritic
from maze_core.env.structured_env import ActorID
from maze_core.training.rollout import ActorTransitions, Rollout

OBSERVATIONS = {0: gym.spaces.Dict({"v": gym.spaces.Box(-100, 100, (1,))})}
ACTIONS = {0: gym.spaces.Dict({"action": gym.spaces.Discrete(2)})}
ACTOR = ActorID(0, 0)


def _trainer(gamma, gae_lambda):
    policy = ProbabilisticPolicyComposer(ACTIONS, OBSERVATIONS, agent_counts_dict={0: 1}).policy
    critic = StepStateCriticComposer(OBSERVATIONS, {0: 1}, networks=[ObservedValue]).critic
    config = A2CAlgorithmConfig(gamma=gamma, gae_lambda=gae_lambda)
    return A2C(config, model=TorchActorCritic(policy, critic), collector=None)


def _rollout(values, next_value, rewards, terminated, truncated, final_observations=()):
    column = lambda x: torch.tensor(x, dtype=torch.float32).unsqueeze(1)  # noqa: E731
    n = len(values)
    return Rollout(
        actors={
            ACTOR: ActorTransitions(
                rows=torch.arange(n),
                observations={"v": column(values).unsqueeze(-1)},
                actions={"action": torch.zeros(n, 1, dtype=torch.long)},
            )
        },
        actor_ids=[ACTOR] * n,
        rewards=column(rewards),
        terminated=column(terminated).bool(),
        truncated=column(truncated).bool(),
        env_step_ends=torch.ones(n, 1, dtype=torch.bool),
        next_observation={"v": torch.tensor([[next_value]])},
        next_actor_id=ACTOR,
        final_observations=[(t, 0, {"v": torch.tensor([v])}) for t, v in final_observations],
    )


def test_truncation_bootstraps_from_the_final_observation_and_the_rollout_from_the_next():
    trainer = _trainer(gamma=0.5, gae_lambda=1.0)
    rollout = _rollout([1, 2, 3], 4, [1, 1, 1], [0, 0, 0], [0, 1, 0], final_observations=[(1, 10.0)])
    _, _, values = trainer.evaluate_actions(rollout)
    assert values[:, 0].tolist() == pytest.approx([1, 2, 3])
    _, returns = trainer.advantages_and_returns(rollout, values)
    # R2 = 1 + .5 * V(next) = 3; R1 = 1 + .5 * V(final obs) = 6; R0 = 1 + .5 * R1 = 4
    assert returns[:, 0].tolist() == pytest.approx([4.0, 6.0, 3.0])


def test_termination_ignores_the_next_observation():
    trainer = _trainer(gamma=0.5, gae_lambda=1.0)
    rollout = _rollout([1, 2, 3], 4, [1, 1, 1], [0, 1, 0], [0, 0, 0])
    _, _, values = trainer.evaluate_actions(rollout)
    _, returns = trainer.advantages_and_returns(rollout, values)
    assert returns[:, 0].tolist() == pytest.approx([1.5, 1.0, 3.0])


def test_log_probs_are_those_of_the_policy_distribution():
    trainer = _trainer(gamma=0.5, gae_lambda=1.0)
    rollout = _rollout([1, 2, 3], 4, [1, 1, 1], [0, 0, 0], [0, 0, 0])
    log_probs, entropies, _ = trainer.evaluate_actions(rollout)
    logits = trainer.model.policy.networks[0]({"v": rollout.actors[ACTOR].observations["v"][:, 0]})["action"]
    expected = torch.log_softmax(logits, dim=-1)[:, 0]
    assert log_probs[:, 0].tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    probs = torch.softmax(logits, dim=-1)
    assert entropies[:, 0].tolist() == pytest.approx((-(probs * probs.log()).sum(-1)).tolist(), abs=1e-6)

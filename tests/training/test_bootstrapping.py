"""The collector bootstraps right (after the rollout, at truncations, inside multi-step env steps)
and GAE turns that into the hand-computed returns."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from dummy_models import ObservedValue
from maze_a2c import A2C, A2CAlgorithmConfig
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer

from maze_core.agent import TorchActorCritic
from maze_core.env import ActorID, MazeEnv, SequentialVectorEnv
from maze_core.training.rollout import VectorEnvCollector


class ScriptedEnv(MazeEnv):
    """Plays a script: each reset and step returns the next observation value ``v``; steps give
    reward 1 and end the episode where ``ends`` says ("terminated"/"truncated" by step count).
    With ``n_sub_steps`` 2, step keys 0 and 1 alternate and env time advances after step key 1."""

    def __init__(self, script, ends, n_sub_steps=1):
        self.script, self.ends, self.n_sub_steps = list(script), dict(ends), n_sub_steps
        self._sub_step, self._steps = 0, 0

    @property
    def observation_spaces_dict(self):
        return {k: gym.spaces.Dict(v=gym.spaces.Box(-1000, 1000, (1,))) for k in range(self.n_sub_steps)}

    @property
    def action_spaces_dict(self):
        return {k: gym.spaces.Dict(action=gym.spaces.Discrete(2)) for k in range(self.n_sub_steps)}

    def actor_id(self):
        return ActorID(self._sub_step, 0)

    def _observe(self):
        return {"v": np.array([self.script.pop(0)], dtype=np.float32)}

    def reset(self, seed=None, options=None):
        self._sub_step = 0
        return self._observe(), {}

    def step(self, action):
        self._steps += 1
        self._sub_step = (self._sub_step + 1) % self.n_sub_steps
        if self._sub_step == 0:
            self.advance_env_time()
        end = self.ends.get(self._steps)
        return self._observe(), 1.0, end == "terminated", end == "truncated", {}


def _trainer_and_rollout(env, n_steps, gamma, behaviour=True):
    spaces = env.observation_spaces_dict
    actions = env.action_spaces_dict
    counts = {k: 1 for k in spaces}
    policy = ProbabilisticPolicyComposer(actions, spaces, agent_counts_dict=counts).policy
    critic = StepStateCriticComposer(spaces, counts, networks={k: ObservedValue for k in spaces}).critic
    model = TorchActorCritic(policy, critic)
    trainer = A2C(A2CAlgorithmConfig(gamma=gamma, gae_lambda=1.0), model=model, collector=None)
    collector = VectorEnvCollector(SequentialVectorEnv([lambda: env]))
    return trainer, collector.collect(model, n_steps, behaviour=behaviour)


def test_truncation_bootstraps_from_the_final_observation_and_the_rollout_from_the_next():
    env = ScriptedEnv([1, 2, 10, 3, 4], ends={2: "truncated"})
    trainer, rollout = _trainer_and_rollout(env, n_steps=3, gamma=0.5)
    assert rollout.values[:, 0].tolist() == pytest.approx([1, 2, 3])
    assert rollout.next_values[:, 0].tolist() == pytest.approx([2, 10, 4])
    _, returns = trainer.advantages_and_returns(rollout)
    # R2 = 1 + .5 * V(next) = 3; R1 = 1 + .5 * V(final obs) = 6; R0 = 1 + .5 * R1 = 4
    assert returns[:, 0].tolist() == pytest.approx([4.0, 6.0, 3.0])


def test_termination_ignores_the_next_observation():
    env = ScriptedEnv([1, 2, 10, 3, 4], ends={2: "terminated"})
    trainer, rollout = _trainer_and_rollout(env, n_steps=3, gamma=0.5)
    _, returns = trainer.advantages_and_returns(rollout)
    assert returns[:, 0].tolist() == pytest.approx([1.5, 1.0, 3.0])


def test_a_truncation_inside_an_env_step_bootstraps_from_the_next_sub_step_undiscounted():
    # sub-step 0 (value 1) is truncated; its final observation is sub-step 1's (value 100)
    env = ScriptedEnv([1, 100, 1], ends={1: "truncated"}, n_sub_steps=2)
    trainer, rollout = _trainer_and_rollout(env, n_steps=1, gamma=0.5)
    assert not rollout.env_step_ends[0, 0]
    _, returns = trainer.advantages_and_returns(rollout)
    assert returns[0, 0].item() == pytest.approx(101.0)  # not 1 + .5 * V(new episode) = 1.5


def test_a_truncation_at_the_end_of_an_env_step_is_discounted():
    env = ScriptedEnv([1, 5, 100, 1], ends={2: "truncated"}, n_sub_steps=2)
    trainer, rollout = _trainer_and_rollout(env, n_steps=2, gamma=0.5)
    assert rollout.env_step_ends[:, 0].tolist() == [False, True]
    _, returns = trainer.advantages_and_returns(rollout)
    # R1 = 1 + .5 * V0(100); R0 = 1 + R1 (same env step)
    assert returns[:, 0].tolist() == pytest.approx([52.0, 51.0])


SCENARIOS = {  # script, ends, sub-steps per env step, rollout length
    "truncation": ([1, 2, 10, 3, 4], {2: "truncated"}, 1, 3),
    "termination": ([1, 2, 10, 3, 4], {2: "terminated"}, 1, 3),
    "truncation inside an env step": ([1, 100, 1], {1: "truncated"}, 2, 1),
    "truncation at the end of an env step": ([1, 5, 100, 1], {2: "truncated"}, 2, 2),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_algorithm_valuing_the_rollout_itself_gets_the_same_returns(scenario):
    """A2C collects without the critic's pass over the rollout and passes its own values."""
    script, ends, n_sub_steps, n_steps = SCENARIOS[scenario]
    trainer, with_values = _trainer_and_rollout(ScriptedEnv(script, ends, n_sub_steps), n_steps, 0.5)
    _, without_values = _trainer_and_rollout(
        ScriptedEnv(script, ends, n_sub_steps), n_steps, 0.5, behaviour=False
    )
    assert A2C.needs_behaviour is False
    assert without_values.values is None and without_values.log_probs is None
    _, _, own_values = trainer.evaluate_actions(without_values)
    expected = trainer.advantages_and_returns(with_values)
    for got, want in zip(trainer.advantages_and_returns(without_values, own_values), expected, strict=True):
        torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="collected without values"):
        trainer.advantages_and_returns(without_values)


def test_log_probs_are_those_of_the_policy_distribution_and_kept_from_acting():
    env = ScriptedEnv([1, 2, 3, 4], ends={})
    trainer, rollout = _trainer_and_rollout(env, n_steps=3, gamma=0.5)
    log_probs, entropies, values = trainer.evaluate_actions(rollout)
    transitions = rollout.actors[ActorID(0, 0)]
    logits = trainer.model.policy.networks[0]({"v": transitions.observations["v"][:, 0]})["action"]
    taken = transitions.actions["action"][:, 0]
    expected = torch.log_softmax(logits, dim=-1).gather(1, taken.unsqueeze(1)).squeeze(1)
    assert log_probs[:, 0].tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert rollout.log_probs[:, 0].tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert values[:, 0].tolist() == pytest.approx(rollout.values[:, 0].tolist())
    probs = torch.softmax(logits, dim=-1)
    assert entropies[:, 0].tolist() == pytest.approx((-(probs * probs.log()).sum(-1)).tolist(), abs=1e-6)

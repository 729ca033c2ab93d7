"""The off-policy family: target updates, the DQN loss against hand-computed values, DQN learning
CartPole on the dev runner, resume with and without the saved replay buffer, and the errors a new
user meets (a critic of the wrong kind, a resumed run's empty buffer)."""

import json

import numpy as np
import pytest
import torch
from maze_critics import StepStateActionCriticComposer
from maze_dqn import DQN, DQNAlgorithmConfig
from torch import nn

from maze_core import RunContext
from maze_core.agent import QGreedyPolicy, TorchActorCritic
from maze_core.env.native import NativeVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.training.replay import ReplayBatch
from maze_core.training.rollout import VectorEnvCollector

# DQN learning CartPole quickly: 64 env steps and 16 gradient steps per iteration, 1,600 per epoch
FAST_DQN = {
    "algorithm.train_freq": 16,
    "algorithm.gradient_steps": 16,
    "algorithm.epoch_length": 25,
    "algorithm.learning_starts": 500,
    "algorithm.target_update_interval": 50,
    "algorithm.exploration_fraction": 0.2,
    "runner.eval_episodes": 4,
}


def _eval_returns(run_dir):
    lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [line["eval"]["episode_return_mean"] for line in lines]


def _dqn(config=None, n_envs=2):
    import gymnasium as gym

    env = NativeVectorEnv(
        gym.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="vector_entry_point")
    )
    composer = StepStateActionCriticComposer(env.observation_spaces_dict, env.action_spaces_dict)
    model = TorchActorCritic(QGreedyPolicy(composer.critic), composer.critic)
    return DQN(config or DQNAlgorithmConfig(), model, VectorEnvCollector(env, seed=0))


def test_polyak_and_hard_target_updates():
    torch.manual_seed(0)
    trainer = _dqn()
    source = nn.Linear(2, 1)
    target = trainer.target_copy("linear", source)
    with torch.no_grad():
        source.weight.fill_(1.0), source.bias.fill_(1.0)
        target.weight.fill_(0.0), target.bias.fill_(0.0)
    trainer.update_target("linear", source, tau=0.25)
    assert target.weight.tolist() == [[0.25, 0.25]] and target.bias.item() == 0.25
    trainer.update_target("linear", source, tau=0.25)  # 0.25 + 0.25 * (1 - 0.25)
    assert target.bias.item() == pytest.approx(0.4375)
    trainer.update_target("linear", source, tau=1.0)
    assert torch.equal(target.weight, source.weight) and not target.weight.requires_grad
    # the critic's target follows the critic's networks
    critic_target = trainer.targets["critic"]
    with torch.no_grad():
        for parameter in trainer.model.critic.parameters():
            parameter.add_(1.0)
    trainer.update_target("critic", trainer.model.critic, tau=1.0)
    for mine, theirs in zip(critic_target.parameters(), trainer.model.critic.parameters(), strict=True):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize("double_q", [True, False])
def test_the_dqn_loss_matches_hand_computed_targets(double_q):
    """Two transitions with hand-set Q values: the online network picks the next action (double
    DQN), the target network values it; a terminated transition does not bootstrap; Huber loss."""
    torch.manual_seed(0)
    trainer = _dqn(DQNAlgorithmConfig(double_q=double_q, gamma=0.5))
    online = {(1.0,): [1.0, 3.0], (2.0,): [0.0, 2.0], (3.0,): [5.0, 4.0]}  # Q(s, .) by first feature
    target = {(2.0,): [10.0, 20.0], (3.0,): [30.0, 40.0]}

    def fixed(table):
        def q_values(observation, actor_id=None, n_critics=None):
            keys = observation["observation"][:, :1]
            return torch.tensor([[table[(float(k),)] for k in keys]], requires_grad=True)

        return q_values

    trainer.model.critic.q_values = fixed(online)
    trainer.target_critic.q_values = fixed(target)
    trainer.optimize = lambda name, loss: trainer.__dict__.setdefault("loss", loss.item()) or 0.0
    observation = lambda *first: {"observation": torch.tensor([[f, 0, 0, 0] for f in first])}  # noqa: E731
    batch = ReplayBatch(
        observations=observation(1.0, 1.0),
        actions={"action": torch.tensor([1, 0])},
        rewards=torch.tensor([1.0, 2.0]),
        next_observations=observation(2.0, 3.0),
        terminated=torch.tensor([0.0, 1.0]),
    )
    stats = trainer.update(batch)
    # transition 0: Q = 3; next: online argmax at s=2 is action 1 -> target 20 (double) / max 20
    # transition 1: Q = 1; terminated: target = reward 2
    target_0 = 1.0 + 0.5 * 20.0
    huber = lambda x: 0.5 * x**2 if abs(x) < 1 else abs(x) - 0.5  # noqa: E731
    assert trainer.loss == pytest.approx((huber(3.0 - target_0) + huber(1.0 - 2.0)) / 2)
    assert stats["q_value"] == pytest.approx(2.0)


def test_double_q_and_max_differ_where_the_networks_disagree():
    """The online network prefers action 0 at s=3, the target network's maximum is action 1."""
    for double_q, expected in ((True, 30.0), (False, 40.0)):
        torch.manual_seed(0)
        trainer = _dqn(DQNAlgorithmConfig(double_q=double_q, gamma=1.0))
        trainer.model.critic.q_values = lambda o, actor_id=None, n_critics=None: torch.tensor(  # noqa: E731
            [[[5.0, 4.0]]], requires_grad=True
        )
        trainer.target_critic.q_values = lambda o, actor_id=None, n_critics=None: torch.tensor(
            [[[30.0, 40.0]]]
        )  # noqa: E731
        trainer.optimize = lambda name, loss: 0.0
        batch = ReplayBatch(
            observations={"observation": torch.zeros(1, 4)},
            actions={"action": torch.tensor([0])},
            rewards=torch.tensor([0.0]),
            next_observations={"observation": torch.zeros(1, 4)},
            terminated=torch.tensor([0.0]),
        )
        assert trainer.update(batch)["q_loss"] == pytest.approx(expected - 5.0 - 0.5)


def test_dqn_learns_cartpole_on_the_dev_runner(tmp_path):
    """About 17 s: 12 epochs of 1,600 env steps. A random policy returns about 22."""
    with RunContext(
        env="CartPole-v1", algorithm="dqn", overrides=FAST_DQN, run_dir=tmp_path, seed=0, silent=True
    ) as context:
        summary = context.train(n_epochs=12)
    returns = _eval_returns(tmp_path)
    assert summary.best_return >= 150 and np.mean(returns[-4:]) >= 100, returns
    assert context.compute_action({"observation": np.zeros(4, np.float32)})["action"] in (0, 1)


@pytest.mark.parametrize("save_buffer", [True, False])
def test_resume_with_and_without_the_saved_replay_buffer(tmp_path, save_buffer, capsys):
    overrides = {**FAST_DQN, "algorithm.epoch_length": 10, "algorithm.save_replay_buffer": save_buffer}
    with RunContext(
        env="CartPole-v1", algorithm="dqn", overrides=overrides, run_dir=tmp_path, seed=0
    ) as context:
        steps = context.train(n_epochs=1).env_steps
        stored = len(context._trainer.replay)
    assert (tmp_path / "replay_buffer.pt").exists() == save_buffer
    with RunContext.from_run_dir(tmp_path) as resumed:
        resumed.train(n_epochs=1)
        trainer = resumed._trainer
    printed = capsys.readouterr().out
    if save_buffer:
        assert "starts empty" not in printed
        assert len(trainer.replay) == stored + 640
    else:
        assert "The replay buffer starts empty" in printed and "learning_starts=500" in printed
        assert len(trainer.replay) == 640 and trainer._updates_from == steps + 500


def test_a_critic_of_the_wrong_kind_is_refused_in_one_line():
    with pytest.raises(ConfigurationError) as error:
        RunContext(env="CartPole-v1", algorithm="dqn", critic="step_state")
    assert str(error.value) == (
        "algorithm 'dqn' learns with a state-action critic Q(s, a), but critic 'step_state' builds a "
        "state-value critic V(s): use critic 'step_state_action' (the algorithm's default) or another "
        "state-action critic Q(s, a) composer"
    )
    with pytest.raises(ConfigurationError, match="algorithm 'a2c' learns with a state-value critic"):
        RunContext(env="CartPole-v1", algorithm="a2c", critic="step_state_action")


def test_dqn_on_box_actions_is_refused_naming_the_algorithms_that_fit(tmp_path):
    with pytest.raises(ConfigurationError) as error:
        RunContext(env="Pendulum-v1", algorithm="dqn", run_dir=tmp_path, silent=True).train(1)
    message = str(error.value)
    assert message.startswith("algorithm 'dqn' learns Discrete actions, but this env has Box actions; ")
    assert message.endswith("algorithms for them: a2c, ppo, sac") and "\n" not in message


def test_dqn_trains_on_the_local_runner(tmp_path):
    overrides = {**FAST_DQN, "algorithm.epoch_length": 4, "runner.n_envs": 2, "runner.n_workers": 2}
    with RunContext(
        env="CartPole-v1",
        algorithm="dqn",
        runner="local",
        overrides=overrides,
        run_dir=tmp_path,
        seed=0,
        silent=True,
    ) as context:
        summary = context.train(n_epochs=2)
    assert summary.epochs == 2 and len(context._trainer.replay) == 2 * 4 * 16 * 2


@pytest.mark.slow
def test_dqn_defaults_reach_475_on_cartpole(tmp_path):
    """rl-baselines3-zoo's CartPole settings, 51,200 env steps: about 110 s on 2 cores."""
    with RunContext(env="CartPole-v1", algorithm="dqn", run_dir=tmp_path, seed=0, silent=True) as context:
        summary = context.train()
    assert summary.best_return >= 475, _eval_returns(tmp_path)

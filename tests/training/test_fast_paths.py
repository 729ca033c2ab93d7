"""The trainer's fast paths give the results of the plain implementations they replace, and the
runner options that skip work (no evaluation, fewer env workers) behave as documented."""

import copy
import json

import gymnasium
import pytest
import torch

from maze_core import RunContext
from maze_core.errors import ConfigurationError
from maze_core.training.config import OnPolicyAlgorithmConfig
from maze_core.training.returns import compute_gae

QUICK = {
    "algorithm.epoch_length": 4,
    "algorithm.n_rollout_steps": 16,
    "runner.n_envs": 2,
}


_Config = OnPolicyAlgorithmConfig(lr=1e-3, max_grad_norm=0.5)


def _actor_critic(shared: bool):
    from maze_core.agent import TorchActorCritic, TorchPolicy, TorchStepStateCritic
    from maze_core.distributions import DistributionMapper

    policy_net = _Net()
    policy = TorchPolicy({0: policy_net}, DistributionMapper(gymnasium.spaces.Discrete(2)))
    critic = TorchStepStateCritic({0: policy_net if shared else _Net()})
    return TorchActorCritic(policy, critic)


class _Net(torch.nn.Module):
    """A policy net that also returns a value, so that policy and critic can share it."""

    def __init__(self, hidden=8):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh())
        self.logits = torch.nn.Linear(hidden, 2)
        self.value = torch.nn.Linear(hidden, 1)

    def forward(self, obs):
        latent = self.body(obs["observation"])
        return {"action": self.logits(latent), "value": self.value(latent)}


@pytest.mark.parametrize("shared", [False, True], ids=["separate", "shared"])
def test_gradient_step_matches_clip_grad_norm_and_plain_adam(shared):
    from maze_core.training.trainer import ActorCriticTrainer

    class Trainer(ActorCriticTrainer):
        def update(self, rollout, critic_only=False):
            return {}

    torch.manual_seed(0)
    model = _actor_critic(shared)
    reference = copy.deepcopy(model)
    trainer = Trainer(_Config, model=model, collector=None)
    observations = {"observation": torch.randn(6, 4) * 3}

    def loss_of(m):
        logits = m.policy.compute_logits(observations)["action"]
        return logits.pow(2).sum() + m.critic.predict_value(observations).pow(3).sum()

    stats = trainer.gradient_step(loss_of(model))

    parameters = list(reference.parameters())
    optimizer = torch.optim.Adam(parameters, lr=_Config.lr, foreach=False)
    loss_of(reference).backward()
    # (in the separate case the policy net's value head gets no gradient)
    policy_norm = torch.nn.utils.get_total_norm(
        [p.grad for p in reference.policy.parameters() if p.grad is not None]
    )
    critic_norm = torch.nn.utils.get_total_norm(
        [p.grad for p in reference.critic.parameters() if p.grad is not None]
    )
    torch.nn.utils.clip_grad_norm_(parameters, _Config.max_grad_norm)
    optimizer.step()

    assert stats["policy_grad_norm"] == pytest.approx(float(policy_norm), rel=1e-5)
    assert stats["critic_grad_norm"] == pytest.approx(float(critic_norm), rel=1e-5)
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def _flat_trainer(model):
    from maze_core.training.trainer import ActorCriticTrainer

    class Trainer(ActorCriticTrainer):
        def update(self, rollout, critic_only=False):
            return {}

    return Trainer(_Config, model=model, collector=None)


def _loss(model):
    observations = {"observation": torch.ones(3, 4)}
    logits = model.policy.compute_logits(observations)["action"]
    return logits.pow(2).sum() + model.critic.predict_value(observations).pow(2).sum()


def test_parameters_live_in_one_flat_tensor_and_stay_there_when_user_code_zeroes_gradients():
    model = _actor_critic(shared=False)
    trainer = _flat_trainer(model)
    first = next(model.parameters())
    assert first.data_ptr() == trainer.flat.data.data_ptr()
    for network in (*model.policy.networks.values(), *model.critic.networks.values()):
        network.zero_grad()  # sets every .grad to None: backward would allocate new ones
    before = first.detach().clone()
    stats = trainer.gradient_step(_loss(model))
    assert stats["policy_grad_norm"] > 0 and not torch.equal(first, before)
    assert first.grad.data_ptr() == trainer.flat.grad.data_ptr()


def test_frozen_parameters_are_left_out_and_never_updated():
    model = _actor_critic(shared=False)
    frozen = model.critic.networks[0].body[0].weight
    frozen.requires_grad_(False)
    before = frozen.detach().clone()
    trainer = _flat_trainer(model)
    trainer.gradient_step(_loss(model))
    assert torch.equal(frozen, before)
    assert trainer.flat.data.numel() == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_parameters_replaced_after_the_trainer_was_built_are_an_error():
    from maze_core.errors import TrainingError

    model = _actor_critic(shared=False)
    trainer = _flat_trainer(model)
    trainer.flat.check()
    model.policy.networks[0].logits.weight.data = torch.zeros(2, 8)  # what model.to(other device) does
    with pytest.raises(TrainingError, match="replaced after the trainer was built"):
        trainer.flat.check()


def test_parameters_of_different_dtypes_are_a_clear_error():
    model = _actor_critic(shared=False)
    model.critic.networks[0].double()
    with pytest.raises(ConfigurationError, match="differ in dtype or device"):
        _flat_trainer(model)


def test_gae_matches_the_textbook_recursion():
    torch.manual_seed(1)
    T, N, gamma, lam = 7, 3, 0.9, 0.8
    rewards, values, next_values = torch.randn(T, N), torch.randn(T, N), torch.randn(T, N)
    terminated = torch.rand(T, N) < 0.2
    ends = terminated | (torch.rand(T, N) < 0.2)
    discounts = torch.full((T, N), gamma)
    advantages, returns = compute_gae(rewards, values, next_values, terminated, ends, discounts, lam)
    expected = torch.zeros(T, N)
    running = torch.zeros(N)
    for t in reversed(range(T)):
        delta = rewards[t] + gamma * next_values[t] * (~terminated[t]) - values[t]
        running = delta + gamma * lam * (~ends[t]) * running
        expected[t] = running
    torch.testing.assert_close(advantages, expected)
    torch.testing.assert_close(returns, expected + values)


def test_eval_episodes_0_trains_without_evaluation_and_selects_by_training_return(tmp_path):
    rc = RunContext(
        env="CartPole-v1",
        overrides={**QUICK, "runner.eval_episodes": 0},
        run_dir=tmp_path,
        seed=0,
        silent=True,
    )
    rc.train(n_epochs=2)
    rc.close()
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert all("eval" not in line and "train" in line for line in lines)
    best = max(line["train"].get("episode_return_mean", float("-inf")) for line in lines)
    assert rc._trainer.model_selection.best_reward == best
    assert (tmp_path / "state_dict.pt").exists()
    assert rc.evaluate()["episode_count"] == 8  # evaluating afterwards falls back to 8 episodes


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_eval_episodes_must_be_a_non_negative_integer(value):
    with pytest.raises(ConfigurationError, match=r"runner.eval_episodes=.* integer >= 0"):
        RunContext(env="CartPole-v1", overrides={"runner.eval_episodes": value})


def test_local_runner_with_fewer_workers_than_envs(tmp_path):
    rc = RunContext(
        env="CartPole-v1",
        runner="local",
        overrides={
            **QUICK,
            "runner.n_envs": 3,
            "runner.n_workers": 2,
            "runner.eval_episodes": 2,
            "runner.native_vector_env": False,
        },
        run_dir=tmp_path,
        seed=0,
        silent=True,
    )
    rc.train(n_epochs=1)
    assert rc._trainer.collector.env.n_workers == 2
    rc.close()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["runner"]["n_workers"] == 2


@pytest.mark.parametrize("value", [0, 2.0, False])
def test_n_workers_must_be_a_positive_integer(value):
    with pytest.raises(ConfigurationError, match="n_workers"):
        RunContext(env="CartPole-v1", runner="local", overrides={"runner.n_workers": value})

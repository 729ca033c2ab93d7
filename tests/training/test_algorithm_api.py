"""The algorithm author's API: rollouts keep the behaviour policy's log-probs and the critic's
values, minibatches over single- and multi-actor rollouts, optimizer / schedule / normalization
options."""

import json
import math

import pytest
import torch
from dummy_envs import DictEnv, MultiAgentEnv, TwoStepEnv
from maze_a2c import A2C, A2CAlgorithmConfig
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer

from maze_core import RunContext
from maze_core.agent import TorchActorCritic
from maze_core.env import SequentialVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.training import optimizers
from maze_core.training.rollout import VectorEnvCollector

QUICK = {"algorithm.epoch_length": 4, "runner.n_envs": 2, "runner.eval_episodes": 2, "runner.n_eval_envs": 2}


def _model_and_rollout(env_class, n_steps=6, n_envs=2, behaviour=True):
    env = SequentialVectorEnv([env_class] * n_envs)
    spaces, counts = env.observation_spaces_dict, env.agent_counts_dict
    policy = ProbabilisticPolicyComposer(env.action_spaces_dict, spaces, agent_counts_dict=counts).policy
    critic = StepStateCriticComposer(spaces, counts).critic
    model = TorchActorCritic(policy, critic)
    torch.manual_seed(0)
    rollout = VectorEnvCollector(env, seed=1).collect(model, n_steps, behaviour=behaviour)
    trainer = A2C(A2CAlgorithmConfig(), model=model, collector=None)
    return trainer, rollout


@pytest.mark.parametrize("env_class", [DictEnv, TwoStepEnv, MultiAgentEnv])
def test_rollouts_keep_the_behaviour_log_probs_and_values_exactly(env_class):
    trainer, rollout = _model_and_rollout(env_class)
    with torch.no_grad():
        log_probs, _, values = trainer.evaluate_actions(rollout)
    assert rollout.log_probs.shape == rollout.values.shape == rollout.next_values.shape == (6, 2)
    torch.testing.assert_close(log_probs, rollout.log_probs)  # the squashed Gaussian's too
    torch.testing.assert_close(values, rollout.values)


@pytest.mark.parametrize("env_class", [DictEnv, TwoStepEnv, MultiAgentEnv])
def test_minibatches_cover_every_transition_once_grouped_by_actor(env_class):
    trainer, rollout = _model_and_rollout(env_class)
    steps = torch.arange(12.0).reshape(6, 2)  # a per-transition tensor: its own flat index
    batches = list(rollout.minibatches(5, generator=torch.Generator().manual_seed(3), index=steps))
    assert [len(b["index"]) for b in batches] == [3, 3, 2, 2, 2]
    order = torch.cat([b["index"] for b in batches]).long()
    assert sorted(order.tolist()) == list(range(12)) and order.tolist() != list(range(12))
    for batch in batches:
        with torch.no_grad():
            log_probs, entropies, values = trainer.evaluate_actions(batch)
        assert log_probs.shape == entropies.shape == values.shape == batch.batch_shape
        flat = batch["index"].long()
        torch.testing.assert_close(batch.log_probs, rollout.log_probs.reshape(-1)[flat])
        torch.testing.assert_close(log_probs, batch.log_probs)  # each row matched to its observation
        torch.testing.assert_close(values, batch.values)
    again = list(rollout.minibatches(5, generator=torch.Generator().manual_seed(3), index=steps))
    assert torch.equal(torch.cat([b["index"] for b in again]).long(), order)


def test_minibatches_reject_more_batches_than_transitions():
    _, rollout = _model_and_rollout(DictEnv, n_steps=2, n_envs=1)
    with pytest.raises(ConfigurationError, match="n_minibatches=3 must be between 1 and the rollout's 2 "):
        next(rollout.minibatches(3))


def test_rollout_to_moves_every_tensor():
    _, rollout = _model_and_rollout(TwoStepEnv)
    assert rollout.to("cpu") is rollout
    moved = rollout.to("meta")
    assert moved.values.device.type == "meta" and moved.rewards.device.type == "meta"
    assert all(
        t.rows.device.type == "meta" and all(v.device.type == "meta" for v in t.latents.values())
        for t in moved.actors.values()
    )
    _, without_behaviour = _model_and_rollout(TwoStepEnv, behaviour=False)
    moved = without_behaviour.to("meta")
    assert moved.values is None and moved.log_probs is None
    assert moved.next_values.device.type == moved.bootstraps.device.type == "meta"


def test_one_step_rollouts_on_one_env_train_without_nan(tmp_path):
    overrides = {**QUICK, "algorithm.n_rollout_steps": 1, "runner.n_envs": 1}
    rc = RunContext(
        env="CartPole-v1", algorithm="a2c", overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    )
    rc.train(n_epochs=2)
    rc.close()
    last = json.loads((tmp_path / "stats.jsonl").read_text().splitlines()[-1])
    assert all(math.isfinite(v) for v in last["algorithm"].values())


def test_normalizing_one_advantage_leaves_it_as_it_is():
    trainer, _ = _model_and_rollout(DictEnv, n_steps=1, n_envs=1)
    assert trainer.normalize_advantages(torch.tensor([[2.5]])).tolist() == [[2.5]]
    normalized = trainer.normalize_advantages(torch.tensor([1.0, 3.0]))
    assert normalized.tolist() == pytest.approx([-1 / math.sqrt(2), 1 / math.sqrt(2)], abs=1e-6)
    trainer.config = A2CAlgorithmConfig(normalize_advantages=False)
    assert trainer.normalize_advantages(torch.tensor([1.0, 3.0])).tolist() == [1.0, 3.0]


def test_rmsprop_and_a_linear_lr_schedule_decaying_to_zero(tmp_path):
    overrides = {
        **QUICK,
        "algorithm.n_rollout_steps": 8,
        "algorithm.optimizer": "rmsprop",
        "algorithm.optimizer_eps": 1e-5,
        "algorithm.lr_schedule": "linear",
        "algorithm.lr": 0.001,
    }
    rc = RunContext(
        env="CartPole-v1", algorithm="a2c", overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    )
    rc.train(n_epochs=2)
    optimizer = rc._trainer.optimizer
    rc.close()
    assert isinstance(optimizer, optimizers.RMSprop) and optimizer.defaults["eps"] == 1e-5
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    # the last update of each epoch: 4 of 8 updates done -> 1e-3 * 5/8; the very last -> 1e-3 / 8
    assert [line["algorithm"]["learning_rate"] for line in lines] == pytest.approx([0.001 * 5 / 8, 0.001 / 8])


def test_a_linear_schedule_without_a_number_of_epochs_fails_with_a_hint(tmp_path):
    overrides = {**QUICK, "algorithm.lr_schedule": "linear"}
    rc = RunContext(
        env="CartPole-v1", algorithm="a2c", overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    )
    with pytest.raises(ConfigurationError, match=r"needs a training length: n_env_steps or n_epochs > 0"):
        rc.train(n_epochs=0)  # no limit
    rc.close()

"""SAC (plugin maze-sac): its three losses against hand-computed values, learning Pendulum on the
dev runner (fast; the zoo's settings in a slow test), the CLI with the defaults, Dict-of-Box
actions, resume with the learned temperature, and the errors a new user meets."""

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from maze_critics import StepStateActionCriticComposer
from maze_policies import ProbabilisticPolicyComposer
from maze_sac import SAC, SACAlgorithmConfig
from shell import maze

from maze_core import RunContext
from maze_core.agent import TorchActorCritic
from maze_core.env import GymMazeEnv, MazeEnv, SequentialVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.training.replay import ReplayBatch
from maze_core.training.rollout import VectorEnvCollector

# SAC improving Pendulum quickly: 64x64 networks, batch 128, lr 3e-3, one gradient step per env step
FAST_SAC = {
    "policy.networks": {"_target_": "maze_core.perception.FlattenConcatPolicyNet", "hidden_units": [64, 64]},
    "critic.networks": {
        "_target_": "maze_core.perception.FlattenConcatStateActionValueNet",
        "hidden_units": [64, 64],
    },
    "algorithm.batch_size": 128,
    "algorithm.lr": 0.003,
    "runner.eval_episodes": 4,
}


def _eval_returns(run_dir):
    lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [line["eval"]["episode_return_mean"] for line in lines]


def _sac(config=None):
    env = SequentialVectorEnv([lambda: GymMazeEnv("Pendulum-v1")] * 2)
    spaces, actions = env.observation_spaces_dict, env.action_spaces_dict
    policy = ProbabilisticPolicyComposer(actions, spaces).policy
    critic = StepStateActionCriticComposer(spaces, actions, n_critics=2).critic
    model = TorchActorCritic(policy, critic)
    return SAC(config or SACAlgorithmConfig(), model, VectorEnvCollector(env, seed=0))


def test_the_sac_losses_match_hand_computed_values(monkeypatch):
    """Two transitions (the second terminated), hand-set policy logits, Gaussian noise and twin Q
    functions; the losses are recomputed here in float64 from the formulas (CleanRL's form, with
    Stable-Baselines3's log-probs of the action rescaled into [-1, 1])."""
    torch.manual_seed(0)
    gamma, alpha, target_entropy = 0.9, 0.5, -1.0  # Pendulum: one action dim, Box(-2, 2)
    trainer = _sac(SACAlgorithmConfig(gamma=gamma, ent_coef=f"auto_{alpha}"))
    assert trainer.target_entropy == target_entropy and trainer.log_ent_coef.item() == pytest.approx(
        math.log(alpha)
    )

    # the policy: mean = first observation feature, log std = second
    def logits(observation, actor_id=None, memory=None):
        obs = observation["observation"]
        return {"action": torch.stack([obs[:, 0], obs[:, 1]], dim=-1).requires_grad_()}

    trainer.model.policy.compute_logits = logits
    noise = [torch.tensor([[0.5], [-1.0]]), torch.tensor([[2.0], [0.3]])]  # at s, then at s'
    monkeypatch.setattr(torch, "randn_like", lambda like: noise.pop(0).to(like))

    # twin critics: Q1 = s0 + a, Q2 = 2 s0 - a (online); target: Q1' = 10 s0 + a, Q2' = s0 - a
    def critic(k1, k2):
        def q_value(observation, action, actor_id=None):
            s0, a = observation["observation"][:, 0], action["action"][:, 0]
            return torch.stack([k1 * s0 + a, k2 * s0 - a])

        return q_value

    trainer.model.critic.q_value = critic(1.0, 2.0)
    trainer.target_critic.q_value = critic(10.0, 1.0)
    losses = {}
    trainer.optimize = lambda name, loss: losses.setdefault(name, loss.item()) * 0.0
    batch = ReplayBatch(
        observations={"observation": torch.tensor([[0.2, -0.5, 0.0], [-0.4, 0.1, 0.0]])},
        actions={"action": torch.tensor([[1.0], [-0.5]])},
        rewards=torch.tensor([1.0, -2.0]),
        next_observations={"observation": torch.tensor([[0.3, -1.0, 0.0], [0.6, 0.0, 0.0]])},
        terminated=torch.tensor([0.0, 1.0]),
    )
    stats = trainer.update(batch)

    def sample(obs, eps):  # action, log-prob of the action rescaled into [-1, 1]
        mean, log_std = obs[0], obs[1]
        x = mean + math.exp(log_std) * eps
        gaussian = -0.5 * eps**2 - log_std - 0.5 * math.log(2 * math.pi)
        return 2.0 * math.tanh(x), gaussian - math.log(1 - math.tanh(x) ** 2)

    obs = [(0.2, -0.5), (-0.4, 0.1)]
    next_obs = [(0.3, -1.0), (0.6, 0.0)]
    new = [sample(o, e) for o, e in zip(obs, (0.5, -1.0), strict=True)]
    following = [sample(o, e) for o, e in zip(next_obs, (2.0, 0.3), strict=True)]
    targets = []
    for (s0, _), (a, log_p), reward, done in zip(next_obs, following, (1.0, -2.0), (0, 1), strict=True):
        next_value = min(10.0 * s0 + a, s0 - a) - alpha * log_p
        targets.append(reward + gamma * (1 - done) * next_value)
    critic_loss = 0.5 * sum(
        np.mean(
            [(k * s0 + sign * a - y) ** 2 for (s0, _), a, y in zip(obs, (1.0, -0.5), targets, strict=True)]
        )
        for k, sign in ((1.0, 1.0), (2.0, -1.0))
    )
    actor_loss = np.mean(
        [alpha * log_p - min(s0 + a, 2 * s0 - a) for (s0, _), (a, log_p) in zip(obs, new, strict=True)]
    )
    ent_coef_loss = -math.log(alpha) * np.mean([log_p + target_entropy for _, log_p in new])

    assert losses["critic"] == pytest.approx(critic_loss, rel=1e-5)
    assert losses["actor"] == pytest.approx(actor_loss, rel=1e-5)
    assert losses["ent_coef"] == pytest.approx(ent_coef_loss, rel=1e-5)
    assert stats["ent_coef"] == pytest.approx(alpha) and stats["entropy"] == pytest.approx(
        -np.mean([log_p for _, log_p in new]), rel=1e-5
    )


def test_one_update_moves_the_temperature_and_the_targets():
    """With real networks: α falls while the entropy is above the target, and the critics' targets
    move by tau towards the critics."""
    torch.manual_seed(0)
    trainer = _sac(SACAlgorithmConfig(tau=0.25, target_entropy=-10.0))
    before = [p.clone() for p in trainer.target_critic.parameters()]
    batch = ReplayBatch(
        observations={"observation": torch.randn(8, 3)},
        actions={"action": torch.rand(8, 1) * 4 - 2},
        rewards=torch.randn(8),
        next_observations={"observation": torch.randn(8, 3)},
        terminated=torch.zeros(8),
    )
    trainer.update(batch)
    assert trainer.log_ent_coef.item() < 0.0  # from log 1.0
    for old, target, online in zip(
        before, trainer.target_critic.parameters(), trainer.model.critic.parameters(), strict=True
    ):
        torch.testing.assert_close(target, 0.75 * old + 0.25 * online)


def test_a_fixed_temperature_is_neither_learned_nor_checkpointed():
    torch.manual_seed(0)
    trainer = _sac(SACAlgorithmConfig(ent_coef=0.2, target_entropy=-0.5))
    assert "ent_coef" not in trainer.optimizers and not trainer.extra_parameters
    assert trainer.target_entropy == -0.5
    batch = ReplayBatch(
        observations={"observation": torch.randn(4, 3)},
        actions={"action": torch.zeros(4, 1)},
        rewards=torch.zeros(4),
        next_observations={"observation": torch.randn(4, 3)},
        terminated=torch.zeros(4),
    )
    assert trainer.update(batch)["ent_coef"] == pytest.approx(0.2)


def test_sac_settings_are_validated_with_hints():
    assert SACAlgorithmConfig(ent_coef="auto_0.1").initial_ent_coef == pytest.approx(0.1)
    for wrong in ("automatic", "auto_", "auto_-1", 0.0, True):
        with pytest.raises(ConfigurationError, match=r"ent_coef=.* is invalid: it must be 'auto'"):
            SACAlgorithmConfig(ent_coef=wrong)
    with pytest.raises(ConfigurationError, match="target_entropy='high' is invalid"):
        SACAlgorithmConfig(target_entropy="high")
    with pytest.raises(ConfigurationError, match="SACAlgorithmConfig calls it lr"):
        SACAlgorithmConfig(learning_rate=1e-3)
    with pytest.raises(ConfigurationError, match="SACAlgorithmConfig calls it ent_coef"):
        SACAlgorithmConfig(alpha=0.2)


def test_sac_improves_pendulum_on_the_dev_runner(tmp_path):
    """About 20 s: 3 epochs of 1,000 env steps. A random policy returns about -1200; seeds 0-5
    reached -150, -224, -252, -427, -392 and -199 in the third epoch."""
    overrides = {**FAST_SAC, "algorithm.epoch_length": 250}
    with RunContext(
        env="Pendulum-v1", algorithm="sac", overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    ) as context:
        summary = context.train(n_epochs=3)
    returns = _eval_returns(tmp_path)
    assert summary.env_steps == 3000 and summary.best_return >= -700, returns
    assert -2.0 <= context.compute_action({"observation": np.zeros(3, np.float32)})["action"][0] <= 2.0


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 330-420 s on the 2-core development machine
def test_sac_with_the_zoo_settings_reaches_minus_200_on_pendulum_within_20k_env_steps(tmp_path):
    """rl-baselines3-zoo's Pendulum-v1 settings (the defaults): 20 epochs of 1,000 env steps. Seeds
    0-4 ended at -123, -134, -163, -125 and -148 (best epochs the same to within 1)."""
    with RunContext(env="Pendulum-v1", algorithm="sac", run_dir=tmp_path, seed=0, silent=True) as context:
        summary = context.train()
    assert summary.env_steps == 20_000 and summary.best_return >= -200, _eval_returns(tmp_path)


def test_maze_train_pendulum_with_sac_from_the_cli(tmp_path):
    run_dir = tmp_path / "run"
    result = maze(
        *("train", "--env", "Pendulum-v1", "--algorithm", "sac", "--epochs", "1", "--seed=0"),
        *("--run-dir", run_dir, "--set", "algorithm.epoch_length=50", "--set", "runner.eval_episodes=1"),
    )
    assert "Training Pendulum-v1 with sac" in result.stdout
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algorithm"]["lr"] == 0.001 and config["algorithm"]["gradient_steps"] == 4
    lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert lines[-1]["algorithm"]["env_steps"] == 200 and "ent_coef" in lines[-1]["algorithm"]


class TwoBoxEnv(MazeEnv):
    """Two Box action heads, a vector and a scalar: reward ``-|push - target|^2 - (gain - 1)^2``."""

    def __init__(self):
        self._obs_space = gym.spaces.Dict(target=gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32))
        self._action_space = gym.spaces.Dict(
            push=gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
            gain=gym.spaces.Box(0.0, 3.0, shape=(), dtype=np.float32),
        )
        self._steps, self._target = 0, np.zeros(2, np.float32)

    @property
    def observation_spaces_dict(self):
        return {0: self._obs_space}

    @property
    def action_spaces_dict(self):
        return {0: self._action_space}

    def reset(self, seed=None, options=None):
        self._steps = 0
        self._target = self.np_random.uniform(-1, 1, size=2).astype(np.float32)
        return {"target": self._target}, {}

    def step(self, action):
        push, gain = np.asarray(action["push"]), float(action["gain"])
        reward = -float(np.sum((push - self._target) ** 2)) - (gain - 1.0) ** 2
        self._steps += 1
        self._target = self.np_random.uniform(-1, 1, size=2).astype(np.float32)
        return {"target": self._target}, reward, False, self._steps >= 10, {}


def test_dict_of_box_actions(tmp_path):
    overrides = {
        **FAST_SAC,
        "algorithm.epoch_length": 50,
        "algorithm.learning_starts": 50,
        "runner.n_envs": 2,
        "runner.eval_episodes": 2,
    }
    with RunContext(
        env=TwoBoxEnv, algorithm="sac", overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    ) as context:
        context.train(n_epochs=2)
        trainer = context._trainer
        action = context.compute_action({"target": np.zeros(2, np.float32)})
    assert trainer.target_entropy == -3.0  # 2 + 1 action dims
    assert action["push"].shape == (2,) and 0.0 <= float(action["gain"]) <= 3.0
    # log pi of the actions rescaled into [-1, 1]: the gain's Box has half-width 1.5
    assert trainer.log_scale == pytest.approx(math.log(1.5))
    returns = _eval_returns(tmp_path)
    assert returns[-1] > -3.0, returns  # random actions return about -23; seeds 0-2 reached -0.5


def test_sac_trains_on_the_local_runner(tmp_path):
    overrides = {
        **FAST_SAC,
        "algorithm.epoch_length": 30,
        "algorithm.learning_starts": 40,
        "runner.n_envs": 2,
        "runner.n_workers": 2,
        "runner.eval_episodes": 1,
    }
    with RunContext(
        env="Pendulum-v1",
        algorithm="sac",
        runner="local",
        overrides=overrides,
        run_dir=tmp_path,
        seed=0,
        silent=True,
    ) as context:
        summary = context.train(n_epochs=2)
        trainer = context._trainer
    assert summary.epochs == 2 and len(trainer.replay) == 2 * 30 * 2
    assert trainer.n_gradient_steps == (2 * 30 - 19) * 4  # from the iteration reaching 40 env steps


def test_sac_on_discrete_actions_is_refused_naming_the_algorithms_that_fit(tmp_path):
    with pytest.raises(ConfigurationError) as error:
        RunContext(env="CartPole-v1", algorithm="sac", run_dir=tmp_path, silent=True).train(1)
    assert str(error.value) == (
        "algorithm 'sac' learns Box actions, but this env has Discrete actions; algorithms for them: "
        "a2c, dqn, ppo"
    )


def test_sac_refuses_a_single_critic_in_one_line(tmp_path):
    with pytest.raises(ConfigurationError) as error:
        RunContext(
            env="Pendulum-v1", algorithm="sac", critic="step_state_action", run_dir=tmp_path, silent=True
        ).train(1)
    assert str(error.value) == (
        "SAC learns with twin critics, but the critic has n_critics=1: set critic.n_critics=2 (its "
        "default with SAC's critic 'step_state_action')"
    )


def test_resume_continues_with_the_learned_temperature(tmp_path, monkeypatch):
    overrides = {**FAST_SAC, "algorithm.epoch_length": 50, "runner.eval_episodes": 1}
    with RunContext(
        env="Pendulum-v1", algorithm="sac", overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    ) as context:
        context.train(n_epochs=1)
        learned = context._trainer.log_ent_coef.item()
    assert learned < -0.1  # moved away from log 1.0 in 100 gradient steps
    seen = []
    update = SAC.update
    monkeypatch.setattr(
        SAC, "update", lambda self, batch: seen.append(self.log_ent_coef.item()) or update(self, batch)
    )
    with RunContext.from_run_dir(tmp_path, silent=True) as resumed:
        resumed.train(n_epochs=1)
    assert seen and seen[0] == learned

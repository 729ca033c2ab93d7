"""PPO (plugin maze-ppo): the update against hand-computed values, the options, every env kind and
runner, the CLI, and learning CartPole."""

import json
import math

import pytest
import torch
from maze_ppo import PPO, PPOAlgorithmConfig
from shell import maze

from maze_core import RunContext
from maze_core.errors import ConfigurationError

QUICK = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 16,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
    "runner.n_eval_envs": 2,
}


def _one_update(tmp_path, **config):
    """A PPO trainer on CartPole (one pass, one minibatch, gamma 0) and a fresh 8-step rollout."""
    algorithm = PPOAlgorithmConfig(n_update_passes=1, n_minibatches=1, gamma=0.0, **config)
    rc = RunContext(
        env="CartPole-v1", algorithm=algorithm, overrides=QUICK, run_dir=tmp_path, seed=0, silent=True
    )
    rc._build()  # the trainer, without training
    trainer = rc._trainer
    assert isinstance(trainer, PPO)
    return rc, trainer, trainer.collector.collect(trainer.model, 8)


def test_the_behaviour_log_probs_make_the_first_ratio_exactly_one(tmp_path):
    rc, trainer, rollout = _one_update(tmp_path)
    stats = trainer.update(rollout)
    rc.close()
    assert stats["approx_kl"] == 0.0 and stats["clip_fraction"] == 0.0 and stats["early_stopped"] == 0.0


def test_the_clipped_surrogate_against_hand_computed_values(tmp_path):
    rc, trainer, rollout = _one_update(tmp_path, clip_range=0.2, normalize_advantages=False)
    rollout.log_probs -= math.log(2.0)  # pretend the behaviour policy was half as likely: ratio 2
    advantages, _ = trainer.advantages_and_returns(rollout)  # gamma 0: reward 1 - value
    stats = trainer.update(rollout)
    rc.close()
    # min(2 A, 1.2 A): the clipped 1.2 A for A > 0, the unclipped 2 A for A < 0
    expected = -torch.where(advantages > 0, 1.2 * advantages, 2.0 * advantages).mean().item()
    assert stats["policy_loss"] == pytest.approx(expected, rel=1e-5)
    assert stats["clip_fraction"] == 1.0
    assert stats["approx_kl"] == pytest.approx(1 - math.log(2), rel=1e-5)  # (r - 1) - log r


def test_value_clipping_against_hand_computed_values(tmp_path):
    rc, trainer, rollout = _one_update(tmp_path, clip_range_value=0.1)
    with torch.no_grad():
        values = trainer.evaluate_actions(rollout)[2]
    rollout.values = values + 1.0  # the critic said one more while acting
    _, returns = trainer.advantages_and_returns(rollout)
    stats = trainer.update(rollout)
    rc.close()
    clipped = values + 0.9  # the old value plus the change clipped to -0.1
    expected = torch.max((returns - values) ** 2, (returns - clipped) ** 2).mean().item()
    assert stats["value_loss"] == pytest.approx(expected, rel=1e-5)


def test_target_kl_stops_the_update_before_a_step_too_far(tmp_path):
    rc, trainer, rollout = _one_update(tmp_path, target_kl=0.01)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    rollout.log_probs -= 1.0  # approx KL e - 2 = 0.72 > 1.5 * 0.01
    stats = trainer.update(rollout)
    rc.close()
    assert stats["early_stopped"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_other_libraries_names_fail_with_a_hint(tmp_path):
    with pytest.raises(ConfigurationError, match=r"has no field 'batch_size'\. .*calls it n_minibatches"):
        PPOAlgorithmConfig(batch_size=64)
    with pytest.raises(
        ConfigurationError, match=r"'update_epochs'\..* calls it n_update_passes \(n_epochs is"
    ):
        RunContext(
            env="CartPole-v1", algorithm="ppo", overrides={"algorithm.update_epochs": 4}, run_dir=tmp_path
        )
    with pytest.raises(ConfigurationError, match=r"'n_epochs_per_updat'\..* calls it n_update_passes"):
        PPOAlgorithmConfig(n_epochs_per_updat=4)  # a near miss is not "did you mean 'n_epochs'?"
    with pytest.raises(ConfigurationError, match="clip_range=-0.1 is invalid"):
        PPOAlgorithmConfig(clip_range=-0.1)
    with pytest.raises(ConfigurationError, match="target_kl"):
        PPOAlgorithmConfig(target_kl=0)


@pytest.mark.parametrize(
    "env, critic",
    [
        ("Pendulum-v1", "step_state"),
        ("dict", "step_state"),
        ("two_step", "shared_state"),
        ("multi_agent", "step_state"),
    ],
)
def test_ppo_trains_on_every_kind_of_env(env, critic, tmp_path):
    from dummy_envs import STRUCTURED_ENVS

    overrides = {**QUICK, "algorithm.n_minibatches": 3, "algorithm.clip_range_value": 0.2}
    rc = RunContext(
        env=STRUCTURED_ENVS.get(env, env),
        algorithm="ppo",
        critic=critic,
        overrides=overrides,
        run_dir=tmp_path,
        silent=True,
    )
    rc.train(n_epochs=2)
    rc.close()
    last = json.loads((tmp_path / "stats.jsonl").read_text().splitlines()[-1])["algorithm"]
    assert {"approx_kl", "clip_fraction", "explained_variance", "policy_loss", "value_loss"} <= set(last)
    assert all(math.isfinite(v) for v in last.values())


def test_linear_schedules_decay_the_clip_range_and_lr_with_the_local_runner(tmp_path):
    overrides = {
        **QUICK,
        "algorithm.clip_range_schedule": "linear",
        "algorithm.lr_schedule": "linear",
    }
    rc = RunContext(
        env="CartPole-v1",
        algorithm="ppo",
        runner="local",
        overrides=overrides,
        run_dir=tmp_path,
        seed=0,
        silent=True,
    )
    rc.train(n_epochs=2)
    rc.close()
    lines = [json.loads(line)["algorithm"] for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    # two updates per epoch, four in all: the clip range is averaged over the epoch's updates
    assert [line["clip_range"] for line in lines] == pytest.approx([0.2 * 7 / 8, 0.2 * 3 / 8])
    assert [line["learning_rate"] for line in lines] == pytest.approx([3e-4 * 3 / 4, 3e-4 / 4])


def test_cli_trains_ppo_with_a_clip_range_override(tmp_path):
    run_dir = tmp_path / "run"
    quick = [arg for key, value in QUICK.items() for arg in ("--set", f"{key}={value}")]
    result = maze(
        "train",
        "--algorithm",
        "ppo",
        "--set",
        "algorithm.clip_range=0.1",
        "--env",
        "CartPole-v1",
        "--epochs",
        "1",
        "--run-dir",
        run_dir,
        *quick,
    )
    assert "epoch 1" in result.stdout
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algorithm"]["name"] == "ppo" and config["algorithm"]["clip_range"] == 0.1
    stats = json.loads((run_dir / "stats.jsonl").read_text().splitlines()[0])["algorithm"]
    assert stats["clip_range"] == 0.1


def test_ppo_with_default_settings_rises_well_above_random_on_cartpole_fast(tmp_path):
    # random play scores about 22; the defaults reach 475+ within about 20k env steps (4 epochs)
    rc = RunContext(env="CartPole-v1", algorithm="ppo", run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=3, target_return=300)
    rc.close()
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert max(line["eval"]["episode_return_mean"] for line in lines) >= 150


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_defaults_reach_475_on_cartpole_within_100k_env_steps(seed, tmp_path):
    # 19 epochs of 10 updates x 128 steps x 4 envs = 97,280 env steps at most
    rc = RunContext(env="CartPole-v1", algorithm="ppo", run_dir=tmp_path, seed=seed, silent=True)
    rc.train(n_epochs=19, target_return=475)
    rc.close()
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert max(line["eval"]["episode_return_mean"] for line in lines) >= 475
    assert lines[-1]["algorithm"]["env_steps"] <= 100_000
    # the best policy, evaluated on new episodes, is as good as its selection promised
    assert rc.evaluate(n_episodes=8)["episode_return_mean"] >= 400


def test_the_hint_for_sb3s_clip_range_vf_says_it_is_another_loss():
    from maze_ppo import PPOAlgorithmConfig

    from maze_core.errors import ConfigurationError

    with pytest.raises(
        ConfigurationError, match="clip_range_value, which is not the same loss: Stable-Baselines3"
    ):
        PPOAlgorithmConfig(clip_range_vf=0.2)

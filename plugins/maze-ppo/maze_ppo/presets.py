"""PPO's presets: rl-baselines3-zoo's tuned settings (``hyperparams/ppo.yml``) in our names.

The zoo's ``batch_size`` is ``n_minibatches = n_envs * n_rollout_steps / batch_size`` here, its
``n_epochs`` (passes over a rollout) ``n_update_passes``, its ``n_timesteps`` ``n_epochs`` (the
epochs of ``epoch_length`` rollouts it takes), its ``lin_`` values a ``"linear"`` schedule and its
``normalize`` the runner's observation and reward normalization. The networks are
Stable-Baselines3's default (separate 64x64 tanh policy and value networks), and Adam's epsilon
is its 1e-5. Maze has no gSDE (state-dependent exploration): Pendulum-v1's entry is the zoo's
without it. Verified runs: docs/presets.md.
"""

from __future__ import annotations

from maze_core.presets import preset_table, verified_only

#: Stable-Baselines3's PPO defaults that the zoo's entries leave as they are
_SB3 = {
    "model.hidden_units": [64, 64],
    "algorithm.optimizer_eps": 1e-5,
    "algorithm.max_grad_norm": 0.5,
    "algorithm.value_loss_coef": 0.5,
    "algorithm.entropy_coef": 0.0,
    "algorithm.clip_range": 0.2,
}
_NORMALIZE = {"runner.normalize_observations": True, "runner.normalize_rewards": True}

#: rl-baselines3-zoo's settings for the envs it tunes PPO for
ZOO = preset_table(
    "zoo",
    "rl-baselines3-zoo, hyperparams/ppo.yml",
    _SB3,
    {
        "CartPole-v1": {
            "runner.n_envs": 8,
            "algorithm.n_rollout_steps": 32,
            "algorithm.n_minibatches": 1,  # batch_size 256 of 8 x 32 transitions
            "algorithm.n_update_passes": 20,
            "algorithm.gamma": 0.98,
            "algorithm.gae_lambda": 0.8,
            "algorithm.lr": 0.001,
            "algorithm.lr_schedule": "linear",
            "algorithm.clip_range_schedule": "linear",
            "algorithm.epoch_length": 40,  # 10,240 env steps
            "algorithm.n_epochs": 10,  # 102,400 env steps (the zoo: 1e5)
        },
        "Pendulum-v1": {
            "runner.n_envs": 4,
            "algorithm.n_rollout_steps": 1024,
            "algorithm.n_minibatches": 64,  # batch_size 64 of 4 x 1024 transitions
            "algorithm.n_update_passes": 10,
            "algorithm.gamma": 0.9,
            "algorithm.gae_lambda": 0.95,
            "algorithm.lr": 0.001,
            "algorithm.epoch_length": 5,  # 20,480 env steps
            "algorithm.n_epochs": 5,  # 102,400 env steps (the zoo: 1e5)
        },
        "Acrobot-v1": {
            **_NORMALIZE,
            "runner.n_envs": 16,
            "algorithm.n_rollout_steps": 256,
            "algorithm.n_minibatches": 64,  # batch_size 64 of 16 x 256 transitions
            "algorithm.n_update_passes": 4,
            "algorithm.gamma": 0.99,
            "algorithm.gae_lambda": 0.94,
            "algorithm.lr": 0.0003,
            "algorithm.epoch_length": 5,  # 20,480 env steps
            "algorithm.n_epochs": 49,  # 1,003,520 env steps (the zoo: 1e6)
        },
    },
)

#: the presets offered (``--preset zoo``) are those a run here verified (docs/presets.md); the
#: other zoo settings wait for one
PRESETS, CANDIDATES = verified_only(ZOO, verified_envs=("CartPole-v1", "Pendulum-v1", "Acrobot-v1"))

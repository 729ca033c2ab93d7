"""A2C's presets: rl-baselines3-zoo's tuned settings (``hyperparams/a2c.yml``) in our names.

The zoo leaves most of A2C's settings at Stable-Baselines3's defaults, which differ from ours:
5-step rollouts, lr 7e-4, gamma 0.99, RMSprop with epsilon 1e-5, gradients clipped at 0.5, no
advantage normalization and separate 64x64 tanh networks; every preset here sets them. Its
``n_timesteps`` is ``n_epochs`` (epochs of ``epoch_length`` rollouts of ``n_envs`` x
``n_rollout_steps`` env steps) and its ``normalize`` the runner's observation and reward
normalization. Verified runs: docs/presets.md.
"""

from __future__ import annotations

from maze_core.presets import preset_table, verified_only

#: Stable-Baselines3's A2C defaults, which the zoo's entries start from
_SB3 = {
    "model.hidden_units": [64, 64],
    "algorithm.n_rollout_steps": 5,
    "algorithm.lr": 0.0007,
    "algorithm.gamma": 0.99,
    "algorithm.gae_lambda": 1.0,
    "algorithm.entropy_coef": 0.0,
    "algorithm.value_loss_coef": 0.5,
    "algorithm.max_grad_norm": 0.5,
    "algorithm.optimizer": "rmsprop",
    "algorithm.optimizer_eps": 1e-5,
    "algorithm.normalize_advantages": False,
}

#: rl-baselines3-zoo's settings for the envs it tunes A2C for (without gSDE: see docs/presets.md)
ZOO = preset_table(
    "zoo",
    "rl-baselines3-zoo, hyperparams/a2c.yml",
    _SB3,
    {
        "CartPole-v1": {
            "runner.n_envs": 8,
            "algorithm.epoch_length": 250,  # 10,000 env steps
            "algorithm.n_epochs": 50,  # 500,000 env steps (the zoo: 5e5)
        },
        "Acrobot-v1": {
            "runner.n_envs": 16,
            "runner.normalize_observations": True,
            "runner.normalize_rewards": True,
            "algorithm.epoch_length": 125,  # 10,000 env steps
            "algorithm.n_epochs": 50,  # 500,000 env steps (the zoo: 5e5)
        },
    },
)

#: the presets offered (``--preset zoo``) are those a run here verified (docs/presets.md); the
#: other zoo settings wait for one
PRESETS, CANDIDATES = verified_only(ZOO, verified_envs=("CartPole-v1", "Acrobot-v1"))

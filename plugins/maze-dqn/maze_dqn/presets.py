"""DQN's presets: rl-baselines3-zoo's tuned settings (``hyperparams/dqn.yml``) in our names.

As the zoo runs them: one env, plain DQN targets (``double_q`` off: Stable-Baselines3's DQN has
no double DQN), Q networks of the zoo's size (256x256, ReLU). The zoo's
``target_update_interval`` counts env steps, ours gradient steps: each is converted at the
preset's gradient steps per env step; its ``gradient_steps: -1`` (one per env step collected) is
``gradient_steps = train_freq``; its ``n_timesteps`` is ``n_epochs`` (epochs of
``epoch_length`` x ``train_freq`` env steps). Verified runs: docs/presets.md.
"""

from __future__ import annotations

from maze_core.presets import preset_table, verified_only

#: Stable-Baselines3's DQN as the zoo runs it
_SB3 = {
    "runner.n_envs": 1,
    "model.hidden_units": [256, 256],
    "algorithm.double_q": False,
    "algorithm.tau": 1.0,
    "algorithm.max_grad_norm": 10.0,
    "algorithm.exploration_initial_eps": 1.0,
    "algorithm.gamma": 0.99,
}

#: rl-baselines3-zoo's settings for the classic-control envs it tunes DQN for
ZOO = preset_table(
    "zoo",
    "rl-baselines3-zoo, hyperparams/dqn.yml",
    _SB3,
    {
        "CartPole-v1": {
            "algorithm.lr": 0.0023,
            "algorithm.batch_size": 64,
            "algorithm.buffer_size": 100_000,
            "algorithm.learning_starts": 1000,
            "algorithm.train_freq": 256,
            "algorithm.gradient_steps": 128,
            "algorithm.target_update_interval": 128,  # the zoo's 10 env steps: once per round of 256
            "algorithm.exploration_fraction": 0.16,
            "algorithm.exploration_final_eps": 0.04,
            "algorithm.epoch_length": 20,  # 5,120 env steps
            "algorithm.n_epochs": 10,  # 51,200 env steps (the zoo: 5e4)
        },
        "Acrobot-v1": {
            "algorithm.lr": 0.00063,
            "algorithm.batch_size": 128,
            "algorithm.buffer_size": 50_000,
            "algorithm.learning_starts": 128,  # the zoo's 0; DQN here first fills one batch
            "algorithm.train_freq": 4,
            "algorithm.gradient_steps": 4,  # the zoo's -1: one per env step
            "algorithm.target_update_interval": 250,  # the zoo's 250 env steps
            "algorithm.exploration_fraction": 0.12,
            "algorithm.exploration_final_eps": 0.1,
            "algorithm.epoch_length": 1250,  # 5,000 env steps
            "algorithm.n_epochs": 20,  # 100,000 env steps (the zoo: 1e5)
        },
        "MountainCar-v0": {
            "algorithm.gamma": 0.98,
            "algorithm.lr": 0.004,
            "algorithm.batch_size": 128,
            "algorithm.buffer_size": 10_000,
            "algorithm.learning_starts": 1000,
            "algorithm.train_freq": 16,
            "algorithm.gradient_steps": 8,
            "algorithm.target_update_interval": 300,  # the zoo's 600 env steps at 8 per 16
            "algorithm.exploration_fraction": 0.2,
            "algorithm.exploration_final_eps": 0.07,
            "algorithm.epoch_length": 625,  # 10,000 env steps
            "algorithm.n_epochs": 12,  # 120,000 env steps (the zoo: 1.2e5)
        },
    },
)

#: the presets offered (``--preset zoo``) are those a run here verified (docs/presets.md); the
#: other zoo settings wait for one
PRESETS, CANDIDATES = verified_only(ZOO, verified_envs=("CartPole-v1", "Acrobot-v1"))

"""SAC's presets: rl-baselines3-zoo's tuned settings (``hyperparams/sac.yml``) in our names.

As the zoo runs them: one env, one gradient step per env step, Stable-Baselines3's SAC defaults
for what the zoo leaves out (batch 256, buffer 1M, 100 random steps first, tau 0.005, temperature
learned from 1.0, 256x256 ReLU networks). Its ``n_timesteps`` is ``n_epochs`` (epochs of
``epoch_length`` env steps). Verified runs: docs/presets.md.
"""

from __future__ import annotations

from maze_core.presets import preset_table, verified_only

#: Stable-Baselines3's SAC as the zoo runs it
_SB3 = {
    "runner.n_envs": 1,
    "model.hidden_units": [256, 256],
    "algorithm.train_freq": 1,
    "algorithm.gradient_steps": 1,
    "algorithm.batch_size": 256,
    "algorithm.buffer_size": 1_000_000,
    "algorithm.learning_starts": 100,
    "algorithm.gamma": 0.99,
    "algorithm.tau": 0.005,
    "algorithm.ent_coef": "auto",
}

#: rl-baselines3-zoo's settings for the classic-control envs it tunes SAC for (without gSDE)
ZOO = preset_table(
    "zoo",
    "rl-baselines3-zoo, hyperparams/sac.yml",
    _SB3,
    {
        "Pendulum-v1": {
            "algorithm.lr": 0.001,
            "algorithm.epoch_length": 2000,  # 2,000 env steps
            "algorithm.n_epochs": 10,  # 20,000 env steps (the zoo: 2e4)
        },
    },
)

#: the presets offered (``--preset zoo``) are those a run here verified (docs/presets.md); the
#: other zoo settings wait for one
PRESETS, CANDIDATES = verified_only(ZOO, verified_envs=("Pendulum-v1",))

"""B3: wall time and env steps until the mean deterministic evaluation return reaches 475 on
CartPole-v1, ours against Stable-Baselines3's A2C, both with rl-baselines3-zoo's CartPole settings
(the same hyperparameters and 64x64 networks for both).

Protocol, the same for both: every 1,600 training env steps, 8 deterministic episodes on 8
evaluation envs; training stops at the first evaluation whose mean return is >= 475. The wall time
runs from building the envs and the model to that stop, so it includes every evaluation and, for
us, the per-epoch checkpoints and logs. A run that has not solved the task after ``MAX_STEPS``
training env steps counts as unsolved (and as slower than any solved run in the median).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from benchmarks.common import Stopwatch, scratch_dir, torch_threads

TARGET_RETURN = 475.0
EVAL_EVERY_STEPS = 1_600
EVAL_EPISODES = 8
MAX_STEPS = 400_000

#: rl-baselines3-zoo hyperparams/a2c.yml, CartPole-v1 (n_envs 8, ent_coef 0.0, MlpPolicy) with
#: Stable-Baselines3's A2C defaults for the rest, in our names; both contenders use exactly these.
SETTINGS = {
    "n_envs": 8,
    "n_rollout_steps": 5,
    "lr": 7e-4,
    "gamma": 0.99,
    "gae_lambda": 1.0,
    "entropy_coef": 0.0,
    "value_loss_coef": 0.5,
    "max_grad_norm": 0.5,
    "optimizer": "rmsprop",
    "optimizer_eps": 1e-5,
    "normalize_advantages": False,
    "hidden_units": [64, 64],
}
#: torch threads for Stable-Baselines3 here: 1 is its faster setting on this machine (see B1)
SB3_THREADS = 1


@dataclass
class Solve:
    solved: bool
    steps: int
    watch: Stopwatch
    final_return: float

    @property
    def seconds(self) -> float:
        """Wall time to solve; infinite when unsolved, so an unsolved run ranks last in a median."""
        return self.watch.wall if self.solved else math.inf

    def __repr__(self) -> str:
        outcome = "solved" if self.solved else f"NOT solved within {MAX_STEPS} steps"
        return (
            f"{outcome}: {self.steps} env steps, {self.watch.wall:.1f} s wall, "
            f"last evaluation {self.final_return:.1f}"
        )


def maze_a2c(seed: int) -> Solve:
    from maze_a2c import A2CAlgorithmConfig

    from benchmarks.throughput import _default_nets
    from maze_core import RunContext

    algorithm = {k: v for k, v in SETTINGS.items() if k not in ("n_envs", "hidden_units")}
    epoch_length = EVAL_EVERY_STEPS // (SETTINGS["n_rollout_steps"] * SETTINGS["n_envs"])
    config = A2CAlgorithmConfig(n_epochs=0, patience=0, epoch_length=epoch_length, **algorithm)
    steps_per_epoch = config.epoch_length * config.n_rollout_steps * SETTINGS["n_envs"]
    assert steps_per_epoch == EVAL_EVERY_STEPS, "keep one evaluation per 1,600 env steps"
    overrides = {
        "runner.n_envs": SETTINGS["n_envs"],
        "runner.n_eval_envs": EVAL_EPISODES,
        "runner.eval_episodes": EVAL_EPISODES,
        **_default_nets(SETTINGS["hidden_units"]),
    }
    with scratch_dir() as directory:
        run_dir = directory / "run"
        with Stopwatch() as watch:
            rc = RunContext(
                env="CartPole-v1",
                algorithm=config,
                runner="dev",
                seed=seed,
                silent=True,
                run_dir=run_dir,
                overrides=overrides,
            )
            try:
                rc.train(n_epochs=MAX_STEPS // steps_per_epoch, target_return=TARGET_RETURN)
            finally:
                rc.close()
        last = json.loads((run_dir / "stats.jsonl").read_text().splitlines()[-1])
    final_return = last["eval"]["episode_return_mean"]
    watch.steps = int(last["algorithm"]["env_steps"])
    return Solve(final_return >= TARGET_RETURN, watch.steps, watch, final_return)


def sb3_a2c(seed: int) -> Solve:
    from stable_baselines3 import A2C
    from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
    from stable_baselines3.common.env_util import make_vec_env

    n_envs, s = SETTINGS["n_envs"], SETTINGS
    with torch_threads(SB3_THREADS), Stopwatch() as watch:
        env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
        eval_env = make_vec_env("CartPole-v1", n_envs=EVAL_EPISODES, seed=seed + 10_000)
        model = A2C(
            "MlpPolicy",
            env,
            n_steps=s["n_rollout_steps"],
            learning_rate=s["lr"],
            gamma=s["gamma"],
            gae_lambda=s["gae_lambda"],
            ent_coef=s["entropy_coef"],
            vf_coef=s["value_loss_coef"],
            max_grad_norm=s["max_grad_norm"],
            use_rms_prop=s["optimizer"] == "rmsprop",
            rms_prop_eps=s["optimizer_eps"],
            normalize_advantage=s["normalize_advantages"],
            policy_kwargs={"net_arch": {"pi": s["hidden_units"], "vf": s["hidden_units"]}},
            seed=seed,
            device="cpu",
            verbose=0,
        )
        callback = EvalCallback(
            eval_env,
            callback_on_new_best=StopTrainingOnRewardThreshold(reward_threshold=TARGET_RETURN, verbose=0),
            n_eval_episodes=EVAL_EPISODES,
            eval_freq=EVAL_EVERY_STEPS // n_envs,  # counted in vector steps
            deterministic=True,
            verbose=0,
        )
        model.learn(MAX_STEPS, callback=callback)
        env.close()
        eval_env.close()
    watch.steps = model.num_timesteps
    final_return = float(callback.last_mean_reward)
    return Solve(final_return >= TARGET_RETURN, watch.steps, watch, final_return)

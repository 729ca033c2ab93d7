"""B1 (A2C throughput: ours vs Stable-Baselines3 vs a minimal loop), B2 (the tutorial's
configuration on the dev and local runners) and B9 (PPO throughput: ours vs Stable-Baselines3).

Throughput is env steps per second of training wall time: each contender is built and warmed up
first (untimed), then trains a fixed number of env steps. Nothing is evaluated during the timed
part. Our timed part includes everything a training run does per epoch besides evaluation
(statistics, TensorBoard and JSON-lines logging, the checkpoint), with epochs of 100 updates
(4,000 env steps in B1), which is also how often Stable-Baselines3's A2C logs by default.
"""

from __future__ import annotations

import math

from benchmarks.common import DEFAULT_TORCH_THREADS, Stopwatch, scratch_dir, torch_threads

#: B1's hyperparameters, the same for every contender (Stable-Baselines3's A2C defaults with
#: lr 7e-4: value coefficient 0.5, no entropy bonus, gradient clipping at 0.5, plain returns)
B1 = {
    "env": "CartPole-v1",
    "n_envs": 8,
    "n_rollout_steps": 5,
    "lr": 7e-4,
    "gamma": 0.99,
    "hidden_units": [64, 64],
    "value_loss_coef": 0.5,
    "entropy_coef": 0.0,
    "max_grad_norm": 0.5,
}
#: updates per epoch of our runs in B1 (Stable-Baselines3's A2C logs every 100 updates)
B1_EPOCH_LENGTH = 100
#: B9: PPO in B1's setting (CartPole-v1, 8 envs, separate 64x64 tanh networks, no evaluation);
#: one update is a rollout of 8 x 32 steps, then 4 passes of 4 minibatches of 64 (16 gradient steps)
B9 = {
    "env": "CartPole-v1",
    "n_envs": 8,
    "n_rollout_steps": 32,
    "n_minibatches": 4,
    "n_update_passes": 4,
    "lr": 3e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "hidden_units": [64, 64],
    "value_loss_coef": 0.5,
    "entropy_coef": 0.0,
    "max_grad_norm": 0.5,
}
#: updates per epoch of our runs in B9 (one log line and checkpoint per 10 updates, as
#: Stable-Baselines3's PPO logs after every update)
B9_EPOCH_LENGTH = 10
WARMUP_STEPS = 2_000


def _default_nets(hidden_units):
    from maze_core.perception import FlattenConcatPolicyNet, FlattenConcatStateValueNet

    return {
        "policy.networks": [{"_target_": FlattenConcatPolicyNet, "hidden_units": hidden_units}],
        "critic.networks": [{"_target_": FlattenConcatStateValueNet, "hidden_units": hidden_units}],
    }


def _timed_maze_run(env, config, runner: str, overrides: dict, steps: int, seed: int) -> Stopwatch:
    """``RunContext.train`` for ``steps`` env steps after a one-epoch warm-up (which also builds)."""
    from maze_core import RunContext

    n_envs = overrides.get("runner.n_envs") or (
        overrides["runner.n_workers"] * overrides["runner.envs_per_worker"]  # the ray runner
    )
    steps_per_epoch = config.epoch_length * config.n_rollout_steps * n_envs
    n_epochs = max(1, math.ceil(steps / steps_per_epoch))
    with scratch_dir() as run_dir:
        rc = RunContext(
            env=env,
            algorithm=config,
            runner=runner,
            seed=seed,
            silent=True,
            run_dir=run_dir / "run",
            overrides={"runner.eval_episodes": 0, **overrides},
        )
        try:
            rc.train(n_epochs=1)
            with Stopwatch(n_epochs * steps_per_epoch) as watch:
                rc.train(n_epochs=n_epochs)
        finally:
            rc.close()
    return watch


def b1_config():
    """Our A2C config with B1's hyperparameters, epochs of ``B1_EPOCH_LENGTH`` updates."""
    from maze_a2c import A2CAlgorithmConfig

    return A2CAlgorithmConfig(
        n_epochs=0,
        epoch_length=B1_EPOCH_LENGTH,
        patience=0,
        n_rollout_steps=B1["n_rollout_steps"],
        lr=B1["lr"],
        gamma=B1["gamma"],
        gae_lambda=1.0,
        value_loss_coef=B1["value_loss_coef"],
        entropy_coef=B1["entropy_coef"],
        max_grad_norm=B1["max_grad_norm"],
    )


def maze_a2c(steps: int, seed: int = 0) -> Stopwatch:
    """Ours: A2C on the dev runner (envs in this process), one torch thread (the runner default)."""
    overrides = {"runner.n_envs": B1["n_envs"], **_default_nets(B1["hidden_units"])}
    return _timed_maze_run(B1["env"], b1_config(), "dev", overrides, steps, seed)


def sb3_model(n_envs: int, seed: int):
    """Stable-Baselines3's A2C with B1's hyperparameters on ``n_envs`` envs (its ``DummyVecEnv``)."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env

    return A2C(
        "MlpPolicy",
        make_vec_env(B1["env"], n_envs=n_envs, seed=seed),
        n_steps=B1["n_rollout_steps"],
        learning_rate=B1["lr"],
        gamma=B1["gamma"],
        gae_lambda=1.0,
        vf_coef=B1["value_loss_coef"],
        ent_coef=B1["entropy_coef"],
        max_grad_norm=B1["max_grad_norm"],
        policy_kwargs={"net_arch": {"pi": B1["hidden_units"], "vf": B1["hidden_units"]}},
        seed=seed,
        device="cpu",
        verbose=0,
    )


def sb3_a2c(steps: int, seed: int = 0, threads: int | None = None, n_envs: int = B1["n_envs"]) -> Stopwatch:
    """Stable-Baselines3's A2C with the same hyperparameters (its MlpPolicy is 64x64 tanh for both
    actor and critic; it uses RMSprop where we use Adam). ``threads`` None leaves torch's default,
    which is what a user of Stable-Baselines3 gets."""
    with torch_threads(threads or DEFAULT_TORCH_THREADS):
        model = sb3_model(n_envs, seed)
        model.learn(WARMUP_STEPS)
        before = model.num_timesteps
        with Stopwatch() as watch:
            model.learn(steps, reset_num_timesteps=False)
        watch.steps = model.num_timesteps - before
        model.get_env().close()
    return watch


def minimal_a2c(steps: int, seed: int = 0, n_envs: int = B1["n_envs"]) -> Stopwatch:
    """The hand-written loop of ``benchmarks/minimal_a2c.py``, one torch thread."""
    from benchmarks.minimal_a2c import MinimalA2C

    with torch_threads(1):
        agent = MinimalA2C(
            env_id=B1["env"],
            n_envs=n_envs,
            n_steps=B1["n_rollout_steps"],
            lr=B1["lr"],
            gamma=B1["gamma"],
            value_coef=B1["value_loss_coef"],
            max_grad_norm=B1["max_grad_norm"],
            hidden=B1["hidden_units"][0],
            seed=seed,
        )
        agent.learn(WARMUP_STEPS)
        before = agent.steps
        with Stopwatch() as watch:
            agent.learn(steps)
        watch.steps = agent.steps - before
        agent.close()
    return watch


def maze_tutorial_config(runner: str, steps: int, seed: int = 0) -> Stopwatch:
    """B2: the seed tutorial's A2C values (100-step rollouts, 25 updates per epoch, ...), default
    networks ([256, 256] tanh) and runner options (4 envs), without evaluation."""
    from maze_a2c import A2CAlgorithmConfig

    config = A2CAlgorithmConfig(patience=0)
    return _timed_maze_run("CartPole-v1", config, runner, {"runner.n_envs": 4}, steps, seed)


def maze_ppo(steps: int, seed: int = 0, n_envs: int = B9["n_envs"], native: bool | None = None) -> Stopwatch:
    """Ours: PPO on the dev runner, one torch thread (the runner default); ``native`` None: the
    runner's default path (native for CartPole-v1), False: one env per ``GymMazeEnv``."""
    from maze_ppo import PPOAlgorithmConfig

    settings = {k: v for k, v in B9.items() if k not in ("env", "n_envs", "hidden_units")}
    config = PPOAlgorithmConfig(
        n_epochs=0, epoch_length=B9_EPOCH_LENGTH, patience=0, optimizer_eps=1e-5, **settings
    )
    overrides = {"runner.n_envs": n_envs, **_default_nets(B9["hidden_units"])}
    if native is not None:
        overrides["runner.native_vector_env"] = native
    return _timed_maze_run(B9["env"], config, "dev", overrides, steps, seed)


def sb3_ppo(steps: int, seed: int = 0, threads: int | None = None, n_envs: int = B9["n_envs"]) -> Stopwatch:
    """Stable-Baselines3's PPO with the same hyperparameters (minibatches of a quarter of a
    rollout at every ``n_envs``); ``threads`` as for ``sb3_a2c``."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    with torch_threads(threads or DEFAULT_TORCH_THREADS):
        env = make_vec_env(B9["env"], n_envs=n_envs, seed=seed)
        model = PPO(
            "MlpPolicy",
            env,
            n_steps=B9["n_rollout_steps"],
            batch_size=B9["n_rollout_steps"] * n_envs // B9["n_minibatches"],
            n_epochs=B9["n_update_passes"],
            learning_rate=B9["lr"],
            gamma=B9["gamma"],
            gae_lambda=B9["gae_lambda"],
            clip_range=B9["clip_range"],
            vf_coef=B9["value_loss_coef"],
            ent_coef=B9["entropy_coef"],
            max_grad_norm=B9["max_grad_norm"],
            policy_kwargs={"net_arch": {"pi": B9["hidden_units"], "vf": B9["hidden_units"]}},
            seed=seed,
            device="cpu",
            verbose=0,
        )
        model.learn(WARMUP_STEPS)
        before = model.num_timesteps
        with Stopwatch() as watch:
            model.learn(steps, reset_num_timesteps=False)
        watch.steps = model.num_timesteps - before
        env.close()
    return watch

"""B11: action masking. Masked PPO (ours) against sb3-contrib's MaskablePPO on
``examples/masked_choice.py`` (100 discrete actions, 5 valid per step at random), with equal
settings, in one run: the held-out return as a share of the optimum after 50k env steps, and env
steps per second end to end.

    .venv/bin/python -m benchmarks.masking [--seeds 3] [--steps 50000] [--no-docs]

Settings (both): L1's PPO settings (``benchmarks/learning.py``: 4 envs, rollouts of 128 steps, 10
passes of 4 minibatches, lr 3e-4, gamma 0.99, GAE lambda 0.95, clip 0.2, no entropy bonus, value
loss coefficient 0.5, gradient norm 0.5, Adam epsilon 1e-5) with separate policy and value
networks of 256x256 tanh; one torch thread, no evaluation during training. Not equal: the
initialisation (ours normc as the original Maze, theirs orthogonal). Held-out evaluation: 200
episodes, seeds 1,000,000 + i, deterministic actions, the same for both, never used to select or
stop anything; the optimum is the best valid action's value at every step of the same episodes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchmarks.common import ROOT, machine, replace_section, scratch_dir, torch_threads
from benchmarks.learning import _PPO

sys.path.insert(0, str(ROOT / "examples"))
import masked_choice  # noqa: E402

SECTION = "## Action masking (B11)"
HELD_OUT_SEED = 1_000_000
HELD_OUT_EPISODES = 200
#: L1's PPO settings (``benchmarks/learning.py``), with networks of 256x256
SETTINGS = {**_PPO, "hidden_units": [256, 256]}


def held_out(act) -> float:
    """Mean return over the held-out episodes as a share of the optimum on the same episodes;
    ``act(env, observation)`` returns the action for the plain gymnasium env."""
    env = masked_choice.MaskedChoiceEnv(strict=True)
    achieved = optimum = 0.0
    for episode in range(HELD_OUT_EPISODES):
        observation, _ = env.reset(seed=HELD_OUT_SEED + episode)
        done = False
        while not done:
            optimum += env.best_reward()
            observation, reward, done, _, _ = env.step(act(env, observation))
            achieved += reward
    return achieved / optimum


def maze(steps: int, seed: int) -> tuple[float, float]:
    """Ours: masked PPO on the dev runner; returns (held-out share of the optimum, env steps/s)."""
    from maze_ppo import PPOAlgorithmConfig

    from benchmarks.throughput import _default_nets
    from maze_core import RunContext
    from maze_core.env import ActionMasksAsObservation

    settings = {k: v for k, v in SETTINGS.items() if k not in ("n_envs", "hidden_units")}
    epoch_steps = SETTINGS["n_rollout_steps"] * SETTINGS["n_envs"]
    config = PPOAlgorithmConfig(n_epochs=0, epoch_length=1, patience=0, **settings)
    overrides = {
        "runner.n_envs": SETTINGS["n_envs"],
        "runner.eval_episodes": 0,
        **_default_nets(SETTINGS["hidden_units"]),
    }
    with scratch_dir() as run_dir, torch_threads(1):
        rc = RunContext(
            env=masked_choice.masked_choice_env, algorithm=config, seed=seed, silent=True,
            run_dir=run_dir / "run", overrides=overrides,
        )  # fmt: skip
        rc.train(n_epochs=1)  # builds everything
        start = time.perf_counter()
        n_epochs = -(-steps // epoch_steps) - 1
        rc.train(n_epochs=n_epochs)
        speed = n_epochs * epoch_steps / (time.perf_counter() - start)
        key = ActionMasksAsObservation.mask_key
        share = held_out(
            lambda env, obs: int(
                rc.compute_action({"observation": obs, key: env.action_masks()}, deterministic=True)
            )
        )
        rc.close()
    return share, speed


def sb3_contrib(steps: int, seed: int) -> tuple[float, float]:
    """sb3-contrib's MaskablePPO with the same settings."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.env_util import make_vec_env

    with torch_threads(1):
        env = make_vec_env(masked_choice.MaskedChoiceEnv, n_envs=SETTINGS["n_envs"], seed=seed)
        model = MaskablePPO(
            "MlpPolicy",
            env,
            n_steps=SETTINGS["n_rollout_steps"],
            batch_size=SETTINGS["n_rollout_steps"] * SETTINGS["n_envs"] // SETTINGS["n_minibatches"],
            n_epochs=SETTINGS["n_update_passes"],
            learning_rate=SETTINGS["lr"],
            gamma=SETTINGS["gamma"],
            gae_lambda=SETTINGS["gae_lambda"],
            clip_range=SETTINGS["clip_range"],
            ent_coef=SETTINGS["entropy_coef"],
            vf_coef=SETTINGS["value_loss_coef"],
            max_grad_norm=SETTINGS["max_grad_norm"],
            policy_kwargs={"net_arch": {"pi": SETTINGS["hidden_units"], "vf": SETTINGS["hidden_units"]}},
            seed=seed,
            device="cpu",
            verbose=0,
        )
        epoch_steps = SETTINGS["n_rollout_steps"] * SETTINGS["n_envs"]
        model.learn(epoch_steps)  # the same first update as ours, untimed
        start = time.perf_counter()
        model.learn(steps - epoch_steps, reset_num_timesteps=False)
        speed = (model.num_timesteps - epoch_steps) / (time.perf_counter() - start)
        share = held_out(
            lambda env, obs: int(model.predict(obs, action_masks=env.action_masks(), deterministic=True)[0])
        )
        env.close()
    return share, speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"maze": [], "sb3_contrib": []}
    for seed in range(args.seeds):  # alternating, so load drifts hit both alike
        for name, run in (("maze", maze), ("sb3_contrib", sb3_contrib)):
            results[name].append(run(args.steps, seed))
            print(name, seed, results[name][-1], flush=True)
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d')}: `python -m benchmarks.masking --seeds {args.seeds} "
        f"--steps {args.steps}`; {machine()['cpu']}, torch {machine()['torch']}. Settings and what was "
        "not equal: the docstring of `benchmarks/masking.py`.",
        "",
        "| contender | held-out return / optimum, per seed | mean | env steps/s (median) |",
        "|---|---|---|---|",
    ]
    for name, label in (("maze", "ours, masked PPO"), ("sb3_contrib", "sb3-contrib MaskablePPO")):
        shares = [share for share, _ in results[name]]
        speeds = [speed for _, speed in results[name]]
        lines.append(
            f"| {label} | {', '.join(f'{s:.3f}' for s in shares)} | {statistics.mean(shares):.3f} | "
            f"{statistics.median(speeds):,.0f} |"
        )
    ratio = statistics.median(s for _, s in results["maze"]) / statistics.median(
        s for _, s in results["sb3_contrib"]
    )
    lines += ["", f"Speed ratio ours / sb3-contrib: **{ratio:.2f}x** (medians of the seeds).", ""]
    section = "\n".join(lines)
    print(section)
    if not args.no_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", SECTION, section)


if __name__ == "__main__":
    main()

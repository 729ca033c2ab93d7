"""RunContext end to end: training, run directories, seeding, resume, faults and errors."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from maze_core import RunContext
from maze_core.errors import ConfigurationError, EnvWorkerError, UnknownNameError

# a small, fast configuration for runs that only need to work, not to learn
QUICK = {
    "algorithm.epoch_length": 4,
    "algorithm.n_rollout_steps": 16,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
    "runner.n_eval_envs": 2,
}


def _stats_lines(run_dir):
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def _without_timings(stats):
    drop = {"steps_per_second", "epoch_time"}
    return [
        {
            k: {n: v for n, v in s.items() if n not in drop} if isinstance(s, dict) else s
            for k, s in line.items()
            if k != "time"
        }
        for line in stats
    ]


def test_run_dir_holds_best_model_checkpoint_config_stats_and_tensorboard(tmp_path):
    run_dir = tmp_path / "run"
    rc = RunContext(env="CartPole-v1", algorithm="a2c", overrides=QUICK, run_dir=run_dir, seed=1, silent=True)
    rc.train(n_epochs=2)
    rc.close()

    best = torch.load(run_dir / "state_dict.pt", weights_only=True)
    assert set(best) == {"policies", "critics"}
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and "optimizer" in checkpoint and "rng" in checkpoint
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seed"] == 1 and config["algorithm"]["name"] == "a2c" and config["runner"]["name"] == "dev"
    assert config["algorithm"]["epoch_length"] == 4
    assert {"maze-core", "maze-a2c", "maze-runners"} <= set(config["plugins"])
    lines = _stats_lines(run_dir)
    assert [line["epoch"] for line in lines] == [1, 2]
    assert {"train", "eval", "algorithm"} <= set(lines[0])
    assert lines[0]["eval"]["episode_count"] == 2
    assert list(run_dir.glob("events.out.tfevents.*"))


def test_the_same_seed_gives_the_identical_run(tmp_path):
    runs = []
    for name in ("a", "b"):
        rc = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path / name, seed=7, silent=True)
        rc.train(n_epochs=2)
        rc.close()
        runs.append(_without_timings(_stats_lines(tmp_path / name)))
    assert runs[0] == runs[1]
    other = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path / "c", seed=8, silent=True)
    other.train(n_epochs=2)
    other.close()
    assert _without_timings(_stats_lines(tmp_path / "c")) != runs[0]


def test_repeated_train_continues_and_resume_picks_up_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    rc = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=run_dir, seed=3, silent=True)
    rc.train(n_epochs=1)
    rc.train(n_epochs=1)
    rc.close()
    assert [line["epoch"] for line in _stats_lines(run_dir)] == [1, 2]
    steps_before = _stats_lines(run_dir)[-1]["algorithm"]["env_steps"]

    resumed = RunContext(
        env="CartPole-v1", overrides=QUICK, run_dir=run_dir, seed=3, silent=True, resume=True
    )
    resumed.train(n_epochs=1)
    resumed.close()
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 3
    last = _stats_lines(run_dir)[-1]
    # 4 rollouts of 16 steps on 2 native envs, less one reset-only row per finished episode
    assert last["algorithm"]["env_steps"] == steps_before + 4 * 16 * 2 - last["train"]["episode_count"]


def test_policy_evaluate_and_compute_action(tmp_path):
    import numpy as np

    from maze_core import GymMazeEnv

    rc = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=1)
    rc.close()
    stats = rc.evaluate(n_episodes=3)
    assert stats["episode_count"] == 3
    env = GymMazeEnv("CartPole-v1")
    obs, _ = env.reset(seed=0)
    before = {k: v.copy() for k, v in obs.items()}
    action = rc.compute_action(obs, deterministic=True)
    assert env.action_space.contains({"action": np.asarray(action["action"], dtype=np.int64)})
    assert all((obs[k] == before[k]).all() for k in obs)
    env.step(action)


def test_local_runner_trains(tmp_path):
    rc = RunContext(env="CartPole-v1", runner="local", overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=1)
    rc.close()
    assert _stats_lines(tmp_path)[0]["train"]["total_step_count"] > 0


@pytest.mark.parametrize("env", ["Pendulum-v1", "dict", "two_step", "multi_agent"])
def test_other_action_spaces_and_structured_envs_train_with_default_models(env, tmp_path):
    from dummy_envs import STRUCTURED_ENVS

    rc = RunContext(env=STRUCTURED_ENVS.get(env, env), overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=2)
    rc.close()
    lines = _stats_lines(tmp_path)
    assert len(lines) == 2
    assert all(torch.isfinite(torch.tensor(v)) for v in lines[-1]["algorithm"].values())


class _CrashingEnvFactory:
    """CartPole that raises after ``crash_after`` steps (picklable for the worker processes)."""

    def __init__(self, crash_after):
        self.crash_after = crash_after

    def __call__(self):
        from maze_core import GymMazeEnv

        crash_after = self.crash_after

        class Crashing(GymMazeEnv):
            steps = 0

            def step(self, action):
                Crashing.steps += 1
                if Crashing.steps > crash_after:
                    raise RuntimeError("simulator exploded")
                return super().step(action)

        return Crashing("CartPole-v1")


def test_worker_crash_in_local_runner_ends_training_with_a_clear_error_and_keeps_the_best_model(tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test modules are not importable by workers
    # each epoch is 4 updates x 16 steps per env: the crash comes in the third epoch
    rc = RunContext(
        env=_CrashingEnvFactory(crash_after=150),
        runner="local",
        overrides=QUICK,
        run_dir=tmp_path,
        seed=0,
        silent=True,
    )
    start = time.monotonic()
    with pytest.raises(EnvWorkerError, match="simulator exploded") as error:
        rc.train(n_epochs=5)
    rc.close()
    assert time.monotonic() - start < 60
    assert "worker" in str(error.value)
    assert torch.load(tmp_path / "state_dict.pt", weights_only=True)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] >= 1


def test_ctrl_c_stops_cleanly_and_keeps_both_checkpoints(tmp_path):
    script = textwrap.dedent(f"""
        from maze_core import RunContext
        overrides = {{**{QUICK!r}, "algorithm.patience": 0}}
        rc = RunContext(env="CartPole-v1", overrides=overrides, run_dir={str(tmp_path)!r}, seed=0,
                        silent=True)
        rc.train(n_epochs=1)
        print("first epoch done", flush=True)
        rc.train(n_epochs=0)  # forever
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "first epoch done"
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert "KeyboardInterrupt" in stderr
    assert torch.load(tmp_path / "state_dict.pt", weights_only=True)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] >= 1


def test_unknown_names_fail_at_construction_with_suggestions():
    with pytest.raises(UnknownNameError, match="a2c"):
        RunContext(env="CartPole-v1", algorithm="a2")
    with pytest.raises(UnknownNameError, match="local"):
        RunContext(env="CartPole-v1", runner="locl")
    with pytest.raises(UnknownNameError, match="CartPole-v1"):
        RunContext(env="CartPole-v9")


def test_bad_arguments_fail_at_construction():
    from maze_core import GymMazeEnv

    with pytest.raises(ConfigurationError, match="factory|function"):
        RunContext(env=GymMazeEnv("CartPole-v1"))
    with pytest.raises(ConfigurationError, match="has no field 'learning_rate'"):
        RunContext(env="CartPole-v1", overrides={"algorithm.learning_rate": 0.1})
    with pytest.raises(ConfigurationError, match="lr=-1"):
        RunContext(env="CartPole-v1", overrides={"algorithm.lr": -1})
    with pytest.raises(ConfigurationError, match="section"):
        RunContext(env="CartPole-v1", overrides={"lr": 0.1})
    with pytest.raises(ConfigurationError, match="n_envs"):
        RunContext(env="CartPole-v1", overrides={"runner.n_envs": 0})


def test_silent_prints_nothing(tmp_path, capfd):
    rc = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=1)
    rc.evaluate(n_episodes=1)
    rc.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_console_shows_a_banner_and_one_row_per_epoch(tmp_path, capfd):
    rc = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path, seed=0)
    rc.train(n_epochs=2)
    rc.close()
    lines = capfd.readouterr().out.splitlines()
    assert lines[0] == "Training CartPole-v1 with a2c" and lines[1].endswith("seed 0")
    assert f"Run directory: {tmp_path}" in lines
    header = next(line for line in lines if line.startswith("epoch"))
    rows = lines[lines.index(header) + 1 :]
    assert [row.split()[0] for row in rows] == ["1", "2"]
    assert "pi_loss" in header.split() and "eval" in header.split()


def test_the_banner_names_the_env_an_env_factory_makes(tmp_path, capfd):
    from maze_core import GymMazeEnv

    def pendulum_factory():
        return GymMazeEnv("Pendulum-v1")

    one_update = {"algorithm.epoch_length": 1, "runner.n_envs": 1, "runner.eval_episodes": 0}
    with RunContext(env=pendulum_factory, overrides=one_update, run_dir=tmp_path, seed=0) as rc:
        rc.train(n_epochs=1)
    assert capfd.readouterr().out.splitlines()[0] == "Training Pendulum-v1 (from pendulum_factory) with a2c"


def test_cartpole_learns_well_above_random(tmp_path):
    """A budget that takes well under a minute on 2 CPU cores (random play returns about 22)."""
    rc = RunContext(
        env="CartPole-v1",
        algorithm="a2c",
        runner="dev",
        run_dir=tmp_path,
        seed=0,
        silent=True,
        overrides={"algorithm.patience": 0},
    )
    rc.train(n_epochs=8)
    rc.close()
    stats = rc.evaluate(n_episodes=8)
    assert stats["episode_return_mean"] > 150


def test_tensorboard_events_hold_the_epoch_statistics_against_env_steps(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rc = RunContext(env="CartPole-v1", overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=2)
    rc.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/episode_return_mean", "eval/episode_return_mean", "algorithm/policy_loss"} <= tags
    lines = _stats_lines(tmp_path)
    steps = [line["algorithm"]["env_steps"] for line in lines]
    episodes = [line["train"]["episode_count"] for line in lines]
    # epoch_length x n_rollout_steps x n_envs, less one reset-only row per finished episode
    assert steps == [4 * 16 * 2 - episodes[0], 2 * 4 * 16 * 2 - episodes[0] - episodes[1]]
    assert [event.step for event in events.Scalars("eval/episode_return_mean")] == steps
    assert [event.value for event in events.Scalars("train/epoch")] == [1, 2]
    expected = [line["eval"]["episode_return_mean"] for line in lines]
    assert [event.value for event in events.Scalars("eval/episode_return_mean")] == pytest.approx(expected)


def test_a_nan_loss_stops_training_with_a_clear_error_and_keeps_the_last_good_models(tmp_path):
    from maze_core import GymMazeEnv
    from maze_core.errors import TrainingError

    class NaNRewardAfter150Steps(GymMazeEnv):
        def __init__(self):
            super().__init__("CartPole-v1")
            self.steps = 0

        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            self.steps += 1
            return obs, float("nan") if self.steps > 150 else reward, terminated, truncated, info

    # an epoch is 4 updates x 16 steps per env, so the NaN arrives in epoch 3
    rc = RunContext(env=NaNRewardAfter150Steps, overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    with pytest.raises(TrainingError, match="loss became nan in epoch 3"):
        rc.train(n_epochs=5)
    rc.close()
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in checkpoint["model"]["policies"][0].values())
    assert torch.load(tmp_path / "state_dict.pt", weights_only=True)


def test_a_factory_returning_a_gymnasium_env_is_wrapped(tmp_path):
    import gymnasium

    def make_cartpole():
        return gymnasium.make("CartPole-v1")

    rc = RunContext(env=make_cartpole, overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=1)
    rc.close()
    assert _stats_lines(tmp_path)[0]["train"]["total_step_count"] > 0

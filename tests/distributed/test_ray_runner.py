"""The ray runner end to end, through RunContext, on the session's 2-node Ray cluster (conftest.py):
learning, a worker killed with ``kill -9``, a node removed mid-run, an env that raises."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time

import pytest
from processes import node_processes, parent, wait_until_gone

from maze_core import RunContext
from maze_core.errors import ConfigurationError, EnvWorkerError

pytestmark = pytest.mark.ray


def ray_run(cluster, run_dir, env="CartPole-v1", silent=True, **overrides) -> RunContext:
    """A2C on the ray runner: 2 workers of 2 envs (one CPU each) on ``cluster``."""
    return RunContext(
        env=env,
        algorithm="a2c",
        runner="ray",
        run_dir=run_dir,
        seed=0,
        silent=silent,
        overrides={
            "runner.address": cluster.address,
            "runner.n_workers": 2,
            "runner.rollout_timeout_s": 60.0,
            "algorithm.patience": 0,
            **overrides,
        },
    )


def worker_pids(runner) -> list[int]:
    import ray

    return [ray.get(worker.describe.remote(), timeout=60)["pid"] for worker in runner.workers]


def raylet_pid(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def epoch_stats(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def test_a2c_learns_cartpole_with_a_worker_on_each_node(two_nodes, tmp_path):
    rc = ray_run(two_nodes, tmp_path / "run", **{"runner.eval_on_workers": True})
    rc.train(n_epochs=1)
    pids = worker_pids(rc.runner)
    nodes = [two_nodes.head_node, *two_nodes.worker_nodes]
    assert sorted(parent(pid) for pid in pids) == sorted(raylet_pid(node) for node in nodes)
    rc.train(n_epochs=7, target_return=300)  # stops as soon as the evaluation reaches 300
    rc.close()
    assert not wait_until_gone(pids), "the workers were not shut down"
    assert all(line["eval"]["episode_count"] == 8 for line in epoch_stats(tmp_path / "run"))
    assert rc.evaluate(n_episodes=8)["episode_return_mean"] > 150  # here, on fresh episodes


def at_epochs(run_dir, actions: dict) -> callable:
    """Run ``actions[k]()`` in a thread as soon as epoch ``k`` is in the run's stats.jsonl; returns
    a function that waits for the thread and re-raises what an action raised."""
    errors = []

    def watch():
        pending = dict(actions)
        deadline = time.monotonic() + 300
        try:
            while pending and time.monotonic() < deadline:
                path = run_dir / "stats.jsonl"
                finished = path.read_text().count("\n") if path.exists() else 0
                for epoch in sorted(pending):
                    if epoch <= finished:
                        pending.pop(epoch)()
                time.sleep(0.02)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            errors.append(error)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()

    def join():
        thread.join(timeout=60)
        if errors:
            raise errors[0]

    return join


def kill_worker(runner, index: int, killed: list) -> None:
    pid = worker_pids(runner)[index]
    os.kill(pid, signal.SIGKILL)
    killed.append(pid)


def test_killed_workers_are_replaced_until_max_worker_restarts(two_nodes, tmp_path, capfd):
    run_dir = tmp_path / "run"
    # with prefetch, a rollout is always in flight when a worker dies
    rc = ray_run(
        two_nodes, run_dir, silent=False, **{"runner.max_worker_restarts": 1, "runner.prefetch": True}
    )
    killed = []
    join = at_epochs(
        run_dir, {1: lambda: kill_worker(rc.runner, 0, killed), 2: lambda: kill_worker(rc.runner, 1, killed)}
    )
    with pytest.raises(EnvWorkerError) as failure:
        rc.train(n_epochs=4)
    join()
    survivors = worker_pids(rc.runner)
    rc.close()
    out, _ = capfd.readouterr()
    # the first kill: replaced, the rollout collected again, epoch 2 finished
    assert f"ray worker 0 (pid {killed[0]} on " in out and "died" in out
    assert "started a new worker (restart 1 of at most 1)" in out
    stats = epoch_stats(run_dir)
    assert [line["epoch"] for line in stats] == [1, 2]
    assert [line["train"]["worker_restarts"] for line in stats] == [0, 1]
    # the second kill ends the run with one line, keeping both checkpoints
    message = str(failure.value)
    assert "\n" not in message
    assert (
        message.startswith(f"ray worker 1 (pid {killed[1]} on ") and "runner.max_worker_restarts" in message
    )
    assert (run_dir / "state_dict.pt").exists() and (run_dir / "checkpoint.pt").exists()
    assert not wait_until_gone(killed + survivors)


def test_a_node_removed_mid_run_is_survived(two_nodes, tmp_path, capfd):
    run_dir = tmp_path / "run"
    rc = ray_run(two_nodes, run_dir, silent=False)
    (node,) = two_nodes.worker_nodes
    node_pids = node_processes(node)
    on_node = []

    def remove_node():
        on_node.extend(pid for pid in worker_pids(rc.runner) if parent(pid) == raylet_pid(node))
        two_nodes.remove_node(node)

    join = at_epochs(run_dir, {1: remove_node})
    rc.train(n_epochs=2)
    join()
    survivors = worker_pids(rc.runner)
    rc.close()
    out, _ = capfd.readouterr()
    assert len(on_node) == 1, "one worker should have run on the removed node"
    assert f"(pid {on_node[0]} on " in out and "started a new worker (restart 1 of at most 3)" in out
    stats = epoch_stats(run_dir)
    assert [line["epoch"] for line in stats] == [1, 2]
    assert stats[1]["train"]["worker_restarts"] == 1
    assert all(parent(pid) == raylet_pid(two_nodes.head_node) for pid in survivors)
    assert not wait_until_gone(node_pids | set(survivors))


def test_an_env_exception_in_a_worker_ends_the_run_naming_the_worker(two_nodes, tmp_path):
    def make_env():
        import gymnasium

        from maze_core.env import GymMazeEnv

        class FailingOnStep30(gymnasium.Wrapper):
            steps = 0

            def step(self, action):
                self.steps += 1
                if self.steps == 30:
                    raise RuntimeError("the simulator lost its licence")
                return self.env.step(action)

        return GymMazeEnv(FailingOnStep30(gymnasium.make("CartPole-v1")))

    rc = ray_run(two_nodes, tmp_path / "run", env=make_env)
    with pytest.raises(EnvWorkerError) as failure:
        rc.train(n_epochs=1)
    pids = worker_pids(rc.runner)
    rc.close()
    first_line, *rest = str(failure.value).splitlines()
    assert re.fullmatch(
        r"ray worker \d \(pid \d+ on .+\) failed in collect: env 0 failed in step: "
        r"RuntimeError: the simulator lost its licence",
        first_line,
    ), first_line
    assert "in step" in "\n".join(rest) and "raise RuntimeError" in "\n".join(rest)  # the env's traceback
    assert not wait_until_gone(pids)


@pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date")  # the tutorial's env
def test_the_tutorials_algorithm_config_and_networks_work_unchanged(two_nodes, tmp_path):
    import gymnasium
    import ray.cloudpickle
    from maze_a2c import A2CAlgorithmConfig
    from models import tutorial_nets
    from models.test_composers import tutorial_composers
    from training.test_config import SEED_VALUES

    from maze_core import GymMazeEnv, RolloutEvaluator, SequentialVectorEnv

    def cartpole_env_factory():
        return GymMazeEnv(env=gymnasium.make("CartPole-v0"))

    evaluator = RolloutEvaluator(
        eval_env=SequentialVectorEnv([cartpole_env_factory]), n_episodes=1, deterministic=True
    )
    algorithm_config = A2CAlgorithmConfig(**{**SEED_VALUES, "rollout_evaluator": evaluator})  # the tutorial's
    _, policy_composer, _, critic_composer = tutorial_composers(cartpole_env_factory())
    # a script's own classes travel by value; the tests' helper module is not importable by workers
    ray.cloudpickle.register_pickle_by_value(tutorial_nets)
    try:
        rc = RunContext(
            env=cartpole_env_factory,
            algorithm=algorithm_config,
            policy=policy_composer,
            critic=critic_composer,
            runner="ray",
            run_dir=tmp_path / "run",
            silent=True,
            overrides={"runner.address": two_nodes.address, "runner.rollout_timeout_s": 60.0},
        )
        rc.train(n_epochs=1)
        pids = worker_pids(rc.runner)
        rc.close()
    finally:
        ray.cloudpickle.unregister_pickle_by_value(tutorial_nets)
    (line,) = epoch_stats(tmp_path / "run")
    assert line["eval"]["episode_count"] == 1 and line["train"]["episode_count"] > 0
    assert line["algorithm"]["env_steps"] == 25 * 100 * 4
    assert not wait_until_gone(pids)


def test_more_workers_than_the_cluster_can_place_fail_at_once(two_nodes, tmp_path):
    rc = ray_run(two_nodes, tmp_path / "run", **{"runner.n_workers": 3, "runner.num_cpus_per_worker": 1.5})
    with pytest.raises(
        ConfigurationError, match=r"needs 3 workers x num_cpus_per_worker=1\.5 = 4\.5 CPUs, but"
    ):
        rc.train(n_epochs=1)
    rc.close()


def test_a_worker_that_hangs_is_treated_as_dead_after_rollout_timeout_s(two_nodes, tmp_path, capfd):
    marker = tmp_path / "hung"

    def make_env():
        import gymnasium

        from maze_core.env import GymMazeEnv

        class HangsOnce(gymnasium.Wrapper):
            """The first env (of all workers) to reach its 50th step hangs; the others never do."""

            steps = 0

            def step(self, action):
                self.steps += 1
                if self.steps == 50:
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                        time.sleep(3600)
                    except FileExistsError:
                        pass
                return self.env.step(action)

        return GymMazeEnv(HangsOnce(gymnasium.make("CartPole-v1")))

    rc = ray_run(
        two_nodes,
        tmp_path / "run",
        env=make_env,
        silent=False,
        **{"runner.rollout_timeout_s": 10.0, "algorithm.epoch_length": 3, "runner.eval_episodes": 1},
    )
    rc.train(n_epochs=1)
    pids = worker_pids(rc.runner)
    rc.close()
    out, _ = capfd.readouterr()
    assert marker.exists() and "did not answer within rollout_timeout_s=10 s" in out
    assert epoch_stats(tmp_path / "run")[0]["train"]["worker_restarts"] == 1
    hung = int(re.search(r"\(pid (\d+) on [^)]*\) did not answer", out)[1])
    assert not wait_until_gone([hung, *pids])


def test_dqn_trains_on_ray_workers_acting_with_the_learners_epsilon(two_nodes, tmp_path):
    """The workers get the learner's ε with its weights: with ε 0 every action is the greedy one
    under the learner's weights, with ε 1 about half are not (two actions). Then DQN trains."""
    import torch

    overrides = {
        "runner.address": two_nodes.address,
        "runner.n_workers": 2,
        "runner.rollout_timeout_s": 60.0,
        "algorithm.epoch_length": 4,
        "algorithm.train_freq": 16,
        "algorithm.gradient_steps": 8,
        "algorithm.learning_starts": 64,
    }
    with RunContext(
        env="CartPole-v1",
        algorithm="dqn",
        runner="ray",
        overrides=overrides,
        run_dir=tmp_path,
        seed=0,
        silent=True,
    ) as rc:
        rc.train(n_epochs=1)
        trainer = rc._trainer
        policy, critic = trainer.model.policy, trainer.model.critic
        for epsilon, share in ((0.0, 0.0), (1.0, 0.5)):
            policy.epsilon = epsilon
            rollout = trainer.collector.collect(trainer.model, 64, behaviour=False, next_observations=True)
            (transitions,) = rollout.actors.values()
            with torch.no_grad():
                greedy = critic.q_values(transitions.observations)[0].argmax(-1)
            not_greedy = (transitions.actions["action"] != greedy).float().mean().item()
            assert abs(not_greedy - share) < 0.1, (epsilon, not_greedy)
        assert transitions.next_observations["observation"].shape == (64, 4, 4)
        summary = rc.train(n_epochs=1)
    assert summary.epochs == 2 and summary.env_steps > 2 * 4 * 16 * 4


def test_action_masks_hold_on_ray_workers(two_nodes, tmp_path, masked_choice):
    """PPO on an env that raises on any invalid action (most are), acting on remote workers."""
    import cloudpickle
    import ray.cloudpickle

    for pickler in (cloudpickle, ray.cloudpickle):  # the workers do not have examples/ on their path
        pickler.register_pickle_by_value(masked_choice)
    try:
        env = lambda: masked_choice.masked_choice_env(strict=True, empty_final_mask=True)  # noqa: E731
        quick = {"algorithm.epoch_length": 2, "algorithm.n_rollout_steps": 16}
        with RunContext(
            env=env, algorithm="ppo", runner="ray", run_dir=tmp_path, seed=0, silent=True,
            overrides={
                "runner.address": two_nodes.address, "runner.n_workers": 2, "runner.rollout_timeout_s": 60.0,
                **quick,
            },
        ) as rc:  # fmt: skip
            summary = rc.train(n_epochs=1)
        assert summary.env_steps >= 2 * 16 * 2
    finally:
        for pickler in (cloudpickle, ray.cloudpickle):
            pickler.unregister_pickle_by_value(masked_choice)

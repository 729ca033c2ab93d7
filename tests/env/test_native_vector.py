"""Native vector envs: both autoreset modes against hand-built sequences, through the collector,
the trainer's returns and the evaluator; the runners pick them and train on them."""

import sys

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch
from dummy_envs import ScriptedVectorEnv
from dummy_models import QUICK_RUN, ObservedValue
from gymnasium.vector import AutoresetMode
from maze_a2c import A2C, A2CAlgorithmConfig
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer

from maze_core import RunContext
from maze_core.agent import TorchActorCritic
from maze_core.env.native import NativeVectorEnv, VectorEnvFactory
from maze_core.env.vector import SequentialVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.training.evaluator import RolloutEvaluator
from maze_core.training.rollout import VectorEnvCollector


class FirstActionPolicy:
    def compute_action(self, observation, actor_id=None, deterministic=False):
        return {"action": np.zeros(len(observation["v"]), dtype=np.int64)}


def _trainer(env):
    spaces = env.observation_spaces_dict
    policy = ProbabilisticPolicyComposer(env.action_spaces_dict, spaces, agent_counts_dict={0: 1}).policy
    critic = StepStateCriticComposer(spaces, {0: 1}, networks=[ObservedValue]).critic
    config = A2CAlgorithmConfig(gamma=0.5, gae_lambda=1.0)
    return A2C(config, model=TorchActorCritic(policy, critic), collector=None)


def _collect(mode, n_steps, keep_reset_rows=False):
    env = NativeVectorEnv(ScriptedVectorEnv(mode))
    trainer = _trainer(env)
    rollout = VectorEnvCollector(env).collect(trainer.model, n_steps, keep_reset_rows=keep_reset_rows)
    _, returns = trainer.advantages_and_returns(rollout)
    return env, rollout, returns


# gamma 0.5, reward 1 per step, V(s) = s. Env 0: 1 -> 2 -> 3 (truncated: bootstraps from V(3)),
# then 10 -> 11 -> 12; env 1: 5 -> 6 -> 7 -> 8 (terminated), then 30 -> 31.
#   env 0: R(2) = 1 + .5 * 3 = 2.5, R(1) = 1 + .5 * 2.5 = 2.25, R(11) = 1 + .5 * 12 = 7, R(10) = 4.5
#   env 1: R(7) = 1, R(6) = 1.5, R(5) = 1.75, R(30) = 1 + .5 * 31 = 16.5
SAME_STEP_RETURNS = [[2.25, 1.75], [2.5, 1.5], [4.5, 1.0], [7.0, 16.5]]


def test_same_step_autoreset_takes_the_final_observation_from_the_info():
    env, rollout, returns = _collect(AutoresetMode.SAME_STEP, 4)
    assert env.autoreset_mode == "same_step"
    assert rollout.valid is None
    assert rollout.next_values[1, 0].item() == 3.0  # V(final observation), from the info
    assert rollout.truncated[:, 0].tolist() == [False, True, False, False]
    assert rollout.terminated[:, 1].tolist() == [False, False, True, False]
    np.testing.assert_allclose(returns.numpy(), SAME_STEP_RETURNS)


def test_next_step_autoreset_leaves_the_reset_steps_out_of_the_rollout():
    """Env 0 ends at t=1 (its reset-only step is t=2), env 1 at t=2 (reset-only step t=3): the
    rollout holds the same transitions as in same-step mode, in the same places."""
    _, same_step, _ = _collect(AutoresetMode.SAME_STEP, 4)
    env, rollout, returns = _collect(AutoresetMode.NEXT_STEP, 4)
    assert env.autoreset_mode == "next_step"
    assert rollout.valid is None and rollout.n_transitions == 8
    assert rollout.rewards.eq(1.0).all()  # a reset-only step's reward is 0
    observations = rollout.actors[(0, 0)].observations["v"][..., 0]
    assert observations.tolist() == [[1, 5], [2, 6], [10, 7], [11, 30]]
    # the truncated episode's final observation is the one of the left-out reset step
    assert rollout.next_values[1, 0].item() == 3.0 and rollout.bootstraps[1, 0]
    for name in ("rewards", "terminated", "truncated", "next_values", "bootstraps", "values"):
        assert torch.equal(getattr(rollout, name), getattr(same_step, name)), name
    np.testing.assert_allclose(returns.numpy(), SAME_STEP_RETURNS)


def test_an_env_ahead_drops_its_surplus_transitions_and_bootstraps_from_them():
    """Env 1 ends episodes every 2 transitions, env 0 never: the collector steps until env 1 has
    its 3 transitions; env 0's fourth is left out (counted as an env step), its observation is the
    bootstrap, and no rollout holds older transitions than its own."""
    script = [
        [(list(range(20)), "truncated")],
        [([0, 1, 2], "terminated"), ([20, 21, 22], "terminated"), ([40, 41, 42], "terminated")],
    ]
    env = NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.NEXT_STEP, script))
    trainer, collector = _trainer(env), VectorEnvCollector(env)
    first, second = (collector.collect(trainer.model, 3) for _ in range(2))
    observed = lambda rollout: rollout.actors[(0, 0)].observations["v"][..., 0].T.tolist()  # noqa: E731
    assert observed(first) == [[0, 1, 2], [0, 1, 20]]
    assert observed(second) == [[4, 5, 6], [21, 40, 41]]
    assert second.terminated[:, 1].tolist() == [True, False, True]
    # V(s) = s: each env bootstraps from the observation after its last transition in the rollout
    assert first.next_values[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert first.next_values[:, 1].tolist() == [1.0, 0.0, 21.0]
    assert second.next_values[:, 1].tolist() == [0.0, 41.0, 0.0]
    assert (first.dropped_transitions, first.n_transitions, first.n_env_steps) == (1, 6, 7)
    assert torch.equal(second.rewards, torch.ones(3, 2))  # a reset-only step's reward is 0


def test_an_algorithm_that_handles_reset_rows_gets_them_marked_and_bootstraps_past_them():
    env, rollout, returns = _collect(AutoresetMode.NEXT_STEP, 5, keep_reset_rows=True)
    assert env.autoreset_mode == "next_step"
    # env 0 ends at t=1 (its reset step is t=2), env 1 at t=2 (reset step t=3)
    assert rollout.valid.tolist() == [[True, True], [True, True], [False, True], [True, False], [True, True]]
    # the truncated episode's final observation is the next one in the rollout
    assert rollout.next_values[1, 0].item() == 3.0
    assert rollout.actors[(0, 0)].observations["v"][2, 0].item() == 3.0
    valid_returns = returns[rollout.valid]
    expected = [r for row in SAME_STEP_RETURNS for r in row]
    # the same transitions as in same-step mode (flattened in time-major order)
    assert sorted(valid_returns.tolist()) == pytest.approx(sorted(expected))
    assert returns[:, 0][rollout.valid[:, 0]].tolist() == pytest.approx([2.25, 2.5, 4.5, 7.0])
    assert returns[:, 1][rollout.valid[:, 1]].tolist() == pytest.approx([1.75, 1.5, 1.0, 16.5])


def test_the_update_ignores_the_reset_transitions():
    """Changing the action and reward of the reset steps changes nothing, nor does the observation
    of a terminated episode's reset step (a truncated one's is its bootstrap value)."""
    _, rollout, _ = _collect(AutoresetMode.NEXT_STEP, 5, keep_reset_rows=True)
    env = NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.NEXT_STEP))
    parameters = []
    for changed in (False, True):
        if changed:
            rollout.actors[(0, 0)].observations["v"][3, 1] = 99.0
            for t, i in ((2, 0), (3, 1)):
                rollout.actors[(0, 0)].actions["action"][t, i] = 1
                rollout.rewards[t, i] = 55.0
        torch.manual_seed(0)
        trainer = _trainer(env)
        trainer.update(rollout)
        parameters.append([p.detach().clone() for p in trainer.model.parameters()])
    for before, after in zip(*parameters, strict=True):
        assert torch.equal(before, after)


def test_minibatches_leave_out_the_reset_transitions():
    _, rollout, returns = _collect(AutoresetMode.NEXT_STEP, 5, keep_reset_rows=True)
    batches = list(rollout.minibatches(3, returns=returns))
    assert sum(len(batch["returns"]) for batch in batches) == 8  # 10 transitions, 2 reset steps
    drawn = sorted(value for batch in batches for value in batch["returns"].tolist())
    assert drawn == pytest.approx(sorted(returns[rollout.valid].tolist()))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_statistics_and_env_times_match_the_hand_counted_episodes(mode):
    env = NativeVectorEnv(ScriptedVectorEnv(mode))
    env.reset()
    times = []
    for _ in range(5 if mode == AutoresetMode.NEXT_STEP else 4):
        env.step({"action": np.zeros(2, dtype=np.int64)})
        times.append(env.get_env_time().tolist())
    stats = env.write_epoch_stats()
    # env 0 truncated after 2 steps, env 1 terminated after 3
    assert stats["episode_count"] == 2
    assert stats["episode_return_mean"] == pytest.approx(2.5)
    assert stats["episode_length_mean"] == pytest.approx(2.5)
    if mode == AutoresetMode.NEXT_STEP:
        assert times == [[1, 1], [2, 2], [0, 3], [1, 0], [2, 1]]
    else:
        assert times == [[1, 1], [0, 2], [1, 0], [2, 1]]


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_the_evaluator_counts_whole_episodes_only(mode):
    script = [[([1, 2, 3], "terminated")] * 9, [([5, 6, 7, 8], "truncated")] * 9]
    env = NativeVectorEnv(ScriptedVectorEnv(mode, script))
    stats = RolloutEvaluator(env, n_episodes=4).evaluate(FirstActionPolicy())
    assert stats["episode_count"] == 4
    assert stats["episode_length_mean"] == pytest.approx(2.5)
    assert stats["episode_return_mean"] == pytest.approx(2.5)


def test_per_env_infos_come_from_the_vector_info():
    env = NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.SAME_STEP))
    env.reset()
    env.step({"action": np.zeros(2, dtype=np.int64)})
    _, _, _, truncated, infos = env.step({"action": np.zeros(2, dtype=np.int64)})
    assert truncated.tolist() == [True, False]
    assert len(infos) == 2
    assert infos[0]["final_observation"]["v"].tolist() == [3.0]
    assert infos[1] == {}


def test_bad_vector_envs_are_clear_errors():
    with pytest.raises(ConfigurationError, match="needs a gymnasium.vector.VectorEnv"):
        NativeVectorEnv(gym.make("CartPole-v1"))
    with pytest.raises(ConfigurationError, match="autoreset"):
        NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.DISABLED))
    with pytest.raises(ConfigurationError, match="asked for 3 envs and returned 2"):
        VectorEnvFactory(lambda n: ScriptedVectorEnv(AutoresetMode.SAME_STEP))(3)
    with pytest.raises(ConfigurationError, match="VectorEnvFactory"):
        RunContext(env=VectorEnvFactory(lambda n: None), wrappers=[object])


def _training_env(rc):
    return rc._trainer.collector.env


def test_cartpole_is_stepped_natively_unless_turned_off(tmp_path):
    rc = RunContext(env="CartPole-v1", run_dir=tmp_path / "a", seed=0, silent=True, overrides=QUICK_RUN)
    rc.train(n_epochs=1)
    env = _training_env(rc)
    assert isinstance(env, NativeVectorEnv) and env.autoreset_mode == "next_step"
    assert type(env.env).__name__ == "CartPoleVectorEnv" and env.n_envs == 4
    assert isinstance(rc._trainer.evaluator.eval_env, NativeVectorEnv)
    rc.close()
    assert rc.evaluate(n_episodes=2)["episode_count"] == 2

    overrides = {**QUICK_RUN, "runner.native_vector_env": False}
    rc = RunContext(env="CartPole-v1", run_dir=tmp_path / "b", seed=0, silent=True, overrides=overrides)
    rc.train(n_epochs=1)
    assert isinstance(_training_env(rc), SequentialVectorEnv)
    rc.close()


def test_the_local_runner_steps_native_vector_envs_in_its_workers(tmp_path):
    overrides = {**QUICK_RUN, "runner.n_envs": 5, "runner.n_workers": 2}
    rc = RunContext(
        env="CartPole-v1", runner="local", run_dir=tmp_path, seed=0, silent=True, overrides=overrides
    )
    rc.train(n_epochs=1)
    env = _training_env(rc)
    assert isinstance(env, NativeVectorEnv) and env.autoreset_mode == "next_step"
    assert env.env.n_workers == 2 and env.n_envs == 5
    assert all(process.is_alive() for process in env.env.processes)
    assert env.write_epoch_stats()["total_step_count"] > 0
    rc.close()
    assert not any(process.is_alive() for process in env.env.processes)


def test_a_failing_worker_vector_env_is_a_clear_error():
    from maze_core.env.native_workers import WorkerVectorEnv
    from maze_core.errors import EnvWorkerError

    def make(n_envs):
        raise RuntimeError("no simulator licence")

    with pytest.raises(EnvWorkerError, match="no simulator licence"):
        WorkerVectorEnv(make, 4, n_workers=2)


def _cartpole_vec(n_envs):
    return gym.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="vector_entry_point")


def _fixed_actions_run(env, seed, envs: range, n_steps=200):
    """Reset and step ``env`` (envs ``envs`` of a batch) with actions fixed per env and step."""
    observation, _ = env.reset(seed=seed)
    records = [observation]
    for t in range(n_steps):
        records.extend(env.step((np.arange(envs.start, envs.stop) // 3 + t // 4) % 2)[:4])
    return records


def test_native_workers_give_the_same_envs_however_many_workers_step_them():
    """Same seed, same run on any core count: 16 envs form 8 shards of 2 (each its own native env,
    seeded with the seed plus its first env's index) whether 1, 2 or 4 workers step them."""
    from maze_core.env.native_workers import WorkerVectorEnv

    shards = [range(first, first + 2) for first in range(0, 16, 2)]
    parts = [_fixed_actions_run(_cartpole_vec(2), 7 + shard.start, shard) for shard in shards]
    expected = [np.concatenate(records) for records in zip(*parts, strict=True)]
    assert np.concatenate(expected[3::4]).sum() > 50  # terminations: autoresets draw from the RNGs
    for n_workers in (1, 2, 4):
        env = WorkerVectorEnv(_cartpole_vec, 16, n_workers=n_workers)
        try:
            records = _fixed_actions_run(env, 7, range(16))
        finally:
            env.close()
        for got, want in zip(records, expected, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=f"{n_workers} workers")
        assert env.n_workers == n_workers and env.n_shards == 8


def test_the_local_runner_gives_the_same_native_run_with_1_and_2_workers(tmp_path):
    parameters = []
    for n_workers in (1, 2):
        overrides = {**QUICK_RUN, "runner.n_envs": 5, "runner.n_workers": n_workers}
        rc = RunContext(
            env="CartPole-v1",
            runner="local",
            run_dir=tmp_path / str(n_workers),
            seed=0,
            silent=True,
            overrides=overrides,
        )
        rc.train(n_epochs=1)
        assert _training_env(rc).env.n_workers == n_workers
        parameters.append(torch.nn.utils.parameters_to_vector(rc._trainer.model.parameters()).detach())
        rc.close()
    assert torch.equal(*parameters)


def test_an_explicit_vector_env_factory_trains(tmp_path):
    """A user's factory: gymnasium's SyncVectorEnv in same-step mode."""

    def make(n_envs):
        return gym.make_vec(
            "Acrobot-v1",
            num_envs=n_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        )

    rc = RunContext(env=VectorEnvFactory(make), run_dir=tmp_path, seed=0, silent=True, overrides=QUICK_RUN)
    rc.train(n_epochs=1)
    env = _training_env(rc)
    assert isinstance(env, NativeVectorEnv) and env.autoreset_mode == "same_step"
    assert rc.evaluate(n_episodes=2)["episode_count"] == 2
    rc.close()


@pytest.mark.slow  # about 50 s: two paths x two seeds x 8 epochs
def test_native_and_per_env_paths_reach_the_same_return_on_the_same_budget(tmp_path):
    """The CartPole fast test's budget on both paths, two seeds each (random play returns about 22)."""
    returns = {}
    for native in (True, False):
        for seed in (0, 1):
            rc = RunContext(
                env="CartPole-v1",
                run_dir=tmp_path / f"{native}-{seed}",
                seed=seed,
                silent=True,
                overrides={"algorithm.patience": 0, "runner.native_vector_env": native},
            )
            rc.train(n_epochs=8)
            rc.close()
            returns[native, seed] = rc.evaluate(n_episodes=8)["episode_return_mean"]
    native = np.mean([returns[True, seed] for seed in (0, 1)])
    per_env = np.mean([returns[False, seed] for seed in (0, 1)])
    assert min(returns.values()) > 400, returns
    assert abs(native - per_env) < 0.1 * per_env, returns


def _envpool_cartpole(n_envs):
    import envpool

    return envpool.make_gymnasium("CartPole-v1", num_envs=n_envs, seed=0)


# the local runner's workers cannot import this module: ship its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


# the dev runner's case is slow (25 s: it learns in this process); the local one covers the factory
@pytest.mark.parametrize("runner", [pytest.param("dev", marks=pytest.mark.slow), "local"])
def test_envpool_trains_through_a_vector_env_factory(tmp_path, runner):
    """EnvPool's gymnasium interface is a VectorEnv with next-step autoreset: a factory is all it
    takes, in this process and in the local runner's workers (the CartPole fast test's budget)."""
    pytest.importorskip("envpool")
    overrides = {"algorithm.patience": 0, "runner.n_envs": 16}
    if runner == "local":
        # one shard per worker: EnvPool fixes its seeds at creation, so shards would repeat its envs
        overrides.update({"runner.n_workers": 2, "runner.n_shards": 2, "algorithm.n_epochs": 2})
    rc = RunContext(
        env=VectorEnvFactory(_envpool_cartpole, name="envpool-CartPole-v1"),
        runner=runner,
        run_dir=tmp_path,
        seed=0,
        silent=True,
        overrides=overrides,
    )
    if runner == "dev":
        with pytest.warns(UserWarning, match="EnvPool seeds are fixed"):  # it ignores reset(seed=...)
            rc.train(n_epochs=8)
    else:
        rc.train(n_epochs=1)
    env = _training_env(rc)
    assert isinstance(env, NativeVectorEnv) and env.autoreset_mode == "next_step" and env.n_envs == 16
    if runner == "dev":
        assert type(env.env).__module__.startswith("envpool") or "EnvPool" in type(env.env).__name__
    rc.close()
    if runner == "dev":
        assert rc.evaluate(n_episodes=8)["episode_return_mean"] > 400
    else:
        assert env.env.n_workers == 2


class HangingVectorEnv(ScriptedVectorEnv):
    """Sleeps far longer than any step timeout from its second step on."""

    def step(self, actions):
        import time

        if len(self.actions) >= 1:
            time.sleep(60)
        return super().step(actions)


def _hanging(n_envs):
    return HangingVectorEnv(AutoresetMode.SAME_STEP, [[([1, 2, 3], "terminated")]] * n_envs)


@pytest.mark.parametrize("in_workers", [False, True], ids=["in-process", "workers"])
def test_a_hanging_native_env_is_stopped_by_the_step_timeout(in_workers):
    import time

    from maze_core.env.native_workers import WorkerVectorEnv
    from maze_core.errors import EnvWorkerError

    if in_workers:
        env = NativeVectorEnv(WorkerVectorEnv(_hanging, 2, n_workers=1, step_timeout_s=0.5))
    else:
        env = NativeVectorEnv(_hanging(2), step_timeout_s=0.5)
    env.reset()
    env.step({"action": np.zeros(2, dtype=np.int64)})
    start = time.monotonic()
    with pytest.raises(EnvWorkerError, match="step_timeout_s=0.5"):
        env.step({"action": np.zeros(2, dtype=np.int64)})
    assert time.monotonic() - start < 10

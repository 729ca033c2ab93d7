"""Vector envs: stacking, auto-reset, seeding, statistics and worker failures."""

import functools
import os
import signal
import sys
import time

import cloudpickle
import gymnasium
import numpy as np
import pytest
from dummy_envs import DictEnv, MultiAgentEnv, TwoStepEnv
from gymnasium import spaces

from maze_core.env import GymMazeEnv, MazeEnv, SequentialVectorEnv, SubprocVectorEnv
from maze_core.errors import ConfigurationError, EnvWorkerError, MazeError

# Workers cannot import this module (pytest imports it under a path-derived name), so cloudpickle
# ships its functions and classes by value, as it does for a script's __main__.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

VECTOR_ENVS = [SequentialVectorEnv, SubprocVectorEnv]
N_ENVS = 3


def cartpole(max_episode_steps=None):
    return GymMazeEnv(gymnasium.make("CartPole-v1", max_episode_steps=max_episode_steps))


def random_actions(vector_env, rng):
    """One random action per env for the current actor, stacked."""
    space = vector_env.action_space
    space.seed(int(rng.integers(1 << 30)))
    samples = [space.sample() for _ in range(vector_env.n_envs)]
    return {key: np.stack([sample[key] for sample in samples]) for key in space.spaces}


def rollout(vector_env, n_steps, seed=0):
    """Reset with ``seed`` and step with seeded random actions; returns every array seen."""
    rng = np.random.default_rng(1234)
    observations, infos = vector_env.reset(seed=seed)
    trace = [observations]
    for _ in range(n_steps):
        observations, rewards, terminated, truncated, infos = vector_env.step(random_actions(vector_env, rng))
        trace.append((observations, rewards, terminated, truncated, [sorted(info) for info in infos]))
    return trace


def assert_same_trace(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
        elif isinstance(a, (tuple, list)):
            assert_same_trace(a, b)
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


@pytest.fixture(scope="module")
def subproc_dict_env():
    """One SubprocVectorEnv shared by the tests that only read from it (workers take time to start)."""
    with SubprocVectorEnv([DictEnv] * 2) as env:
        yield env


@pytest.mark.parametrize("vector_cls", VECTOR_ENVS)
def test_stacked_observations_and_result_types(vector_cls):
    with vector_cls([DictEnv] * 2) as env:
        assert env.n_envs == 2
        assert env.observation_spaces_dict == DictEnv().observation_spaces_dict
        assert env.action_spaces_dict == DictEnv().action_spaces_dict
        assert env.agent_counts_dict == {0: 1} and env.actor_id() == (0, 0)
        observations, infos = env.reset(seed=0)
        assert observations["position"].shape == (2, 3) and observations["grid"].shape == (2, 2, 4)
        assert observations["position"].dtype == np.float32
        assert infos == [{}, {}]
        observations, rewards, terminated, truncated, infos = env.step(
            random_actions(env, np.random.default_rng())
        )
        assert rewards.dtype == np.float32 and rewards.shape == (2,)
        assert terminated.dtype == bool and truncated.dtype == bool
        assert isinstance(infos, list) and len(infos) == 2
        np.testing.assert_array_equal(env.get_env_time(), [1, 1])


@pytest.mark.parametrize("make_env", [cartpole, DictEnv, TwoStepEnv, MultiAgentEnv])
def test_same_seed_same_trajectories_sequential_and_subprocess(make_env):
    sequential = rollout(SequentialVectorEnv([make_env] * N_ENVS), 40, seed=3)
    assert_same_trace(rollout(SequentialVectorEnv([make_env] * N_ENVS), 40, seed=3), sequential)
    with SubprocVectorEnv([make_env] * N_ENVS) as env:
        assert_same_trace(rollout(env, 40, seed=3), sequential)
        assert_same_trace(rollout(env, 40, seed=3), sequential)  # reset(seed) restarts everything


def test_int_seed_gives_env_i_seed_plus_i_and_lists_are_accepted():
    env = SequentialVectorEnv([DictEnv] * 3)
    observations, _ = env.reset(seed=10)
    listed, _ = env.reset(seed=[10, 11, 12])
    for i in range(3):
        single = DictEnv().reset(seed=10 + i)[0]
        np.testing.assert_array_equal(observations["position"][i], single["position"])
        np.testing.assert_array_equal(listed["position"][i], single["position"])
    assert not np.array_equal(observations["position"][0], observations["position"][1])
    with pytest.raises(ConfigurationError, match="one seed per env"):
        env.reset(seed=[1, 2])


def test_seed_applies_to_the_next_reset(subproc_dict_env):
    expected, _ = SequentialVectorEnv([DictEnv] * 2).reset(seed=5)
    subproc_dict_env.seed(5)
    observations, _ = subproc_dict_env.reset()
    np.testing.assert_array_equal(observations["position"], expected["position"])


@pytest.mark.parametrize("vector_cls", VECTOR_ENVS)
def test_auto_reset_keeps_the_final_observation(vector_cls):
    seeds = [0, 1]
    # reference: plain gymnasium envs with the same seeds, reset after 5 steps (the time limit)
    references = [gymnasium.make("CartPole-v1", max_episode_steps=5) for _ in seeds]
    for reference, seed in zip(references, seeds, strict=True):
        reference.reset(seed=seed)
    actions = [1, 0, 1, 0, 1]

    with vector_cls([functools.partial(cartpole, max_episode_steps=5)] * 2) as env:
        env.reset(seed=seeds)
        for step, action in enumerate(actions, start=1):
            observations, rewards, terminated, truncated, infos = env.step({"action": np.full(2, action)})
            expected = [reference.step(action) for reference in references]
            if step < 5:
                assert not truncated.any() and all("final_observation" not in info for info in infos)
                np.testing.assert_array_equal(env.get_env_time(), [step, step])
        assert truncated.all() and not terminated.any()
        np.testing.assert_array_equal(env.get_env_time(), [0, 0])
        for i, reference in enumerate(references):
            final = infos[i]["final_observation"]
            np.testing.assert_array_equal(final["observation"], expected[i][0])
            assert infos[i]["final_info"] == expected[i][4]
            first_of_next_episode, _ = reference.reset()  # an unseeded reset continues the RNG
            np.testing.assert_array_equal(observations["observation"][i], first_of_next_episode)


@pytest.mark.parametrize("vector_cls", VECTOR_ENVS)
def test_statistics_match_hand_counted_episodes_of_a_two_step_env(vector_cls):
    with vector_cls([functools.partial(TwoStepEnv, n_env_steps=3)] * 2, logging_prefix="train") as env:
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        running, returns, picks = np.zeros(2), [], []
        for _ in range(17):  # 2 episodes of 6 sub-steps per env, plus a partial one
            if env.actor_id().step_key == 0:
                picks.extend([None, None])  # counted below from the rewards of sub-step 0
            _, rewards, terminated, truncated, _ = env.step(random_actions(env, rng))
            if env.actor_id().step_key == 1:
                picks[-2:] = rewards.tolist()  # sub-step 0 rewards 1 for a correct pick
            running += rewards
            for i in np.flatnonzero(terminated | truncated):
                returns.append(running[i])
                running[i] = 0.0
            assert env.get_env_time().tolist() in ([0, 0], [1, 1], [2, 2])

        stats = env.write_epoch_stats()
        assert stats["episode_count"] == 4 == len(returns)
        assert stats["episode_length_mean"] == 3.0  # env steps, not sub-steps
        assert stats["total_step_count"] == 12
        assert stats["episode_return_mean"] == pytest.approx(np.mean(returns), rel=1e-5)
        assert stats["episode_return_max"] == pytest.approx(max(returns), rel=1e-5)
        assert stats["metric/pick_correct"] == pytest.approx(np.mean(picks))
        assert env.get_stats_value("episode_count") == 4

        from maze_core import statistics

        assert statistics.increment_log_step() == {"train": stats}

        env.reset()  # the partial episodes are dropped
        env.clear_epoch_stats()
        assert env.write_epoch_stats()["episode_count"] == 0


@pytest.mark.parametrize("vector_cls", VECTOR_ENVS)
def test_multi_agent_actor_ids(vector_cls):
    with vector_cls([MultiAgentEnv] * 2) as env:
        env.reset(seed=0)
        assert env.actor_id() == (0, 0)
        env.step({"move": np.zeros(2, np.int64)})
        assert env.actor_id() == (0, 1)
        np.testing.assert_array_equal(env.is_actor_done(), [False, False])


def test_envs_waiting_for_different_actors_are_an_error():
    class EndsAfterSubStepZero(TwoStepEnv):
        def step(self, action):
            obs, reward, _, truncated, info = super().step(action)
            return obs, reward, True, truncated, info

    env = SequentialVectorEnv([EndsAfterSubStepZero, TwoStepEnv])
    env.reset(seed=0)
    with pytest.raises(
        MazeError, match=r"different actors \(env 0: ActorID\(step_key=0.*env 1: ActorID\(step_key=1"
    ):
        env.step({"pick": np.zeros(2, np.int64)})


@pytest.mark.parametrize("vector_cls", VECTOR_ENVS)
def test_close_is_idempotent_and_closed_env_refuses_to_step(vector_cls):
    env = vector_cls([DictEnv] * 2)
    env.reset(seed=0)
    env.close()
    env.close()
    with pytest.raises(MazeError, match="closed"):
        env.reset()
    if vector_cls is SubprocVectorEnv:
        assert not any(process.is_alive() for process in env.processes)


def test_call_forwards_to_every_env(subproc_dict_env):
    assert subproc_dict_env.call("episode_length") == [10, 10]
    assert subproc_dict_env.call("seed", 3) == [None, None]
    assert SequentialVectorEnv([DictEnv] * 2).call("episode_length") == [10, 10]


def test_workers_stay_light():
    class ReportsImports(DictEnv):
        def heavy_modules(self):
            return sorted({"torch", "maze_core.training", "maze_core.agent"} & set(sys.modules))

    with SubprocVectorEnv([ReportsImports]) as env:
        assert env.call("heavy_modules") == [[]]


# -- bad input and faults ---------------------------------------------------------------------------


def test_bad_factories_are_clear_errors():
    with pytest.raises(ConfigurationError, match="function that creates a new env"):
        SequentialVectorEnv([DictEnv()])
    with pytest.raises(ConfigurationError, match="list of functions"):
        SequentialVectorEnv(DictEnv)
    with pytest.raises(ConfigurationError, match="empty"):
        SequentialVectorEnv([])
    shared = DictEnv()
    with pytest.raises(ConfigurationError, match="each create a new env"):
        SequentialVectorEnv([lambda: shared] * 2)
    with pytest.raises(ConfigurationError, match="other spaces"):
        SequentialVectorEnv([DictEnv, TwoStepEnv])
    with pytest.raises(ConfigurationError, match="returned int"):
        SequentialVectorEnv([lambda: 3])


def test_factory_returning_a_gymnasium_env_is_wrapped():
    env = SequentialVectorEnv([lambda: gymnasium.make("CartPole-v1")])
    assert isinstance(env.envs[0], GymMazeEnv)


def crashing_env_factory(mode, crash_at_step=2, index_to_crash=1):
    """A factory of DictEnvs where env ``index_to_crash`` raises or exits in a later step.

    The class is defined inside a function, so cloudpickle ships it by value to the workers.
    """

    class CrashingEnv(DictEnv):
        def __init__(self, index):
            super().__init__()
            self.index = index

        def step(self, action):
            if self.index == index_to_crash and self.get_env_time() + 1 >= crash_at_step:
                if mode == "raise":
                    raise RuntimeError("the env broke down")
                os._exit(3)
            return super().step(action)

    return [functools.partial(CrashingEnv, index) for index in range(2)]


def step_until_error(env):
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.monotonic()
    with pytest.raises(EnvWorkerError) as error:
        for _ in range(5):
            env.step(random_actions(env, rng))
    return error.value, time.monotonic() - start


def test_subprocess_env_raising_in_step():
    env = SubprocVectorEnv(crashing_env_factory("raise"))
    error, elapsed = step_until_error(env)
    assert elapsed < 10
    assert error.worker_index == 1
    message = str(error)
    assert "env 1 failed in step" in message
    assert "RuntimeError: the env broke down" in message
    assert "Traceback" in message and "in step" in error.env_traceback
    assert not any(process.is_alive() for process in env.processes)
    env.close()  # still fine


def test_subprocess_worker_exiting():
    env = SubprocVectorEnv(crashing_env_factory("exit"))
    error, elapsed = step_until_error(env)
    assert elapsed < 10
    assert error.worker_index == 1
    assert "died (exit code 3)" in str(error)
    assert not any(process.is_alive() for process in env.processes)


def test_subprocess_worker_killed():
    env = SubprocVectorEnv([DictEnv] * 2)
    env.reset(seed=0)
    os.kill(env.processes[0].pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(EnvWorkerError, match="env 0 .*killed by signal SIGKILL"):
        env.step(random_actions(env, np.random.default_rng()))
    assert time.monotonic() - start < 10
    assert not any(process.is_alive() for process in env.processes)


def test_subprocess_factory_raising():
    def broken():
        raise ValueError("no such map")

    start = time.monotonic()
    with pytest.raises(
        EnvWorkerError, match="env 1 failed in the env factory: ValueError: no such map"
    ) as error:
        SubprocVectorEnv([DictEnv, broken])
    assert time.monotonic() - start < 10
    assert "Traceback" in error.value.env_traceback


def test_sequential_env_raising():
    env = SequentialVectorEnv(crashing_env_factory("raise"))
    error, _ = step_until_error(env)
    assert error.worker_index == 1 and "RuntimeError: the env broke down" in str(error)
    assert isinstance(error.__cause__, RuntimeError)

    def broken():
        raise ValueError("no such map")

    with pytest.raises(EnvWorkerError, match="env 0 failed in the env factory: ValueError: no such map"):
        SequentialVectorEnv([broken])


def test_factory_from_a_module_workers_cannot_import_is_a_clear_error(tmp_path):
    import importlib.util

    (tmp_path / "hidden_envs.py").write_text(
        "from dummy_envs import DictEnv\n\ndef make():\n    return DictEnv()\n"
    )
    spec = importlib.util.spec_from_file_location("hidden_envs", tmp_path / "hidden_envs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["hidden_envs"] = module
    try:
        with pytest.raises(EnvWorkerError, match="No module named 'hidden_envs'.*register_pickle_by_value"):
            SubprocVectorEnv([module.make])
    finally:
        del sys.modules["hidden_envs"]


def test_unpicklable_factory_is_a_clear_error():
    import threading

    lock = threading.Lock()
    with pytest.raises(ConfigurationError, match="cannot be pickled"):
        SubprocVectorEnv([lambda: lock and DictEnv()])


# -- several envs per worker, shared memory -------------------------------------------------------


class LooseEnv(MazeEnv):
    """Declares float32 observations and a float32 action but returns float64 observations every
    other step and records the action dtype it got: nothing may be cast on the way."""

    def __init__(self):
        self._obs_space = spaces.Dict(x=spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32))
        self._action_space = spaces.Dict(a=spaces.Box(-1.0, 1.0, shape=(), dtype=np.float32))
        self._steps = 0
        self.action_dtypes = []

    @property
    def observation_spaces_dict(self):
        return {0: self._obs_space}

    @property
    def action_spaces_dict(self):
        return {0: self._action_space}

    def _observe(self):
        dtype = np.float64 if self._steps % 2 else np.float32
        return {"x": np.full(2, self._steps, dtype=dtype)}

    def reset(self, seed=None, options=None):
        self._steps = 0
        return self._observe(), {}

    def step(self, action):
        self.action_dtypes.append(str(np.asarray(action["a"]).dtype))
        self._steps += 1
        return self._observe(), float(action["a"]), self._steps >= 5, False, {}


@pytest.mark.parametrize("n_workers", [1, 2, 3])
@pytest.mark.parametrize("make_env", [cartpole, DictEnv, MultiAgentEnv])
def test_groups_of_envs_per_worker_give_the_sequential_trajectories(make_env, n_workers):
    expected = rollout(SequentialVectorEnv([make_env] * 5), 30, seed=3)
    with SubprocVectorEnv([make_env] * 5, n_workers=n_workers) as env:
        assert env.n_workers == n_workers and len(env.processes) == n_workers
        assert_same_trace(rollout(env, 30, seed=3), expected)
        assert env.call("seed", 1) == [None] * 5


def test_more_workers_than_envs_means_one_per_env():
    with SubprocVectorEnv([DictEnv] * 2, n_workers=8) as env:
        assert env.n_workers == 2


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_bad_n_workers(value):
    with pytest.raises(ConfigurationError, match="n_workers"):
        SubprocVectorEnv([DictEnv] * 2, n_workers=value)


def test_observations_and_actions_that_do_not_match_their_spaces_are_passed_unchanged():
    with SubprocVectorEnv([LooseEnv] * 2, n_workers=1) as subproc:
        sequential = SequentialVectorEnv([LooseEnv] * 2)
        for env in (subproc, sequential):
            observations, _ = env.reset(seed=0)
            assert observations["x"].dtype == np.float32
            seen = []
            for action in (np.zeros(2, np.float32), np.zeros(2, np.float64), np.zeros(2, np.float32)):
                observations, *_ = env.step({"a": action})
                seen.append(observations["x"].dtype)
            assert seen == [np.float64, np.float32, np.float64]
        assert subproc.call("action_dtypes") == sequential.call("action_dtypes")
        assert subproc.call("action_dtypes")[0] == ["float32", "float64", "float32"]


def test_returned_observations_are_not_overwritten_by_later_steps():
    with SubprocVectorEnv([cartpole] * 2) as env:
        first, _ = env.reset(seed=0)
        kept = first["observation"].copy()
        env.step({"action": np.ones(2, np.int64)})
        np.testing.assert_array_equal(first["observation"], kept)


def test_an_env_failing_in_a_shared_worker_is_named():
    env = SubprocVectorEnv(crashing_env_factory("raise", index_to_crash=1), n_workers=1)
    error, _ = step_until_error(env)
    assert error.worker_index == 1
    assert "env 1 failed in step" in str(error) and "the env broke down" in str(error)
    assert not any(process.is_alive() for process in env.processes)


def test_a_dead_worker_with_several_envs_names_its_envs():
    env = SubprocVectorEnv([DictEnv] * 4, n_workers=2)
    env.reset(seed=0)
    os.kill(env.processes[1].pid, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(EnvWorkerError, match="env 2 .*worker process of envs 2-3 died .*SIGKILL"):
        env.step({"choice": np.zeros(4, np.int64), "force": np.zeros((4, 2), np.float32)})
    assert time.monotonic() - start < 10


def test_the_shared_memory_file_is_removed_once_the_workers_have_it():
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    with SubprocVectorEnv([functools.partial(DictEnv, episode_length=3)] * 2) as env:
        env.reset(seed=0)
        if os.path.isdir("/dev/shm"):
            assert not {name for name in os.listdir("/dev/shm") if name.startswith("maze-")} - before


def test_plain_gym_envs_take_the_batched_path_with_the_per_env_results():
    """The batched path for plain GymMazeEnvs gives what stepping each GymMazeEnv gives: the same
    trajectories, infos, env times and statistics."""
    factories = [functools.partial(cartpole, max_episode_steps=12)] * N_ENVS
    batched, per_env = SequentialVectorEnv(factories), SequentialVectorEnv(factories)
    per_env._gym_batch = None
    assert batched._gym_batch is not None
    traces, times = [], []
    for env in (batched, per_env):
        traces.append(rollout(env, 60))  # several episodes per env (12 steps at most)
        times.append((env.get_env_time().tolist(), [sub.get_env_time() for sub in env.envs]))
    assert_same_trace(*traces)
    assert times[0] == times[1] and times[0][0] == times[0][1]
    assert batched.write_epoch_stats() == per_env.write_epoch_stats()


def test_wrapped_and_structured_envs_take_the_per_env_path():
    from maze_core.env import LogStatsWrapper

    assert SequentialVectorEnv([lambda: LogStatsWrapper.wrap(cartpole())])._gym_batch is None
    assert SequentialVectorEnv([TwoStepEnv])._gym_batch is None


def test_a_gym_env_raising_on_the_batched_path_is_named():
    class Broken(gymnasium.Wrapper):
        def step(self, action):
            raise RuntimeError("the simulator broke down")

    env = SequentialVectorEnv([cartpole, lambda: GymMazeEnv(Broken(gymnasium.make("CartPole-v1")))])
    env.reset(seed=0)
    with pytest.raises(EnvWorkerError, match="env 1 failed in step: RuntimeError: the simulator broke down"):
        env.step({"action": np.zeros(2, dtype=np.int64)})


class _ShapeGymEnv(gymnasium.Env):
    """Declares 3 observation values; returns ``size`` of them (from step 1 on if ``after_reset``)."""

    def __init__(self, size, after_reset=False):
        self.size, self.after_reset = size, after_reset
        self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        return np.zeros(3 if self.after_reset else self.size, np.float32), {}

    def step(self, action):
        return np.zeros(self.size, np.float32), 1.0, False, False, {}


@pytest.mark.parametrize("vector_cls", VECTOR_ENVS)
@pytest.mark.parametrize("after_reset", [False, True], ids=["reset", "step"])
def test_envs_returning_observations_of_different_shapes_are_named(vector_cls, after_reset):
    factories = [lambda size=size: GymMazeEnv(_ShapeGymEnv(size, after_reset)) for size in (3, 3, 4)]
    env = vector_cls(factories)
    try:
        with pytest.raises(
            EnvWorkerError, match=r"observation 'observation' in different shapes: env 0 \(3,\), env 2 \(4,\)"
        ):
            env.reset()
            env.step({"action": np.zeros(3, dtype=np.int64)})
    finally:
        env.close()

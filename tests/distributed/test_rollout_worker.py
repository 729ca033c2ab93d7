"""The ray runner's parts that need no Ray: the rollout worker run in-process, weights as one flat
vector, rollouts as arrays and joined across workers, the runner's options, lazy imports."""

from __future__ import annotations

import copy
import dataclasses
import sys

import gymnasium
import numpy as np
import pytest
import torch
from dummy_envs import TwoStepEnv
from maze_ray.collector import merge_rollouts, rollout_from_arrays
from maze_ray.worker import RolloutWorker, flat_weights, load_flat_weights, rollout_to_arrays
from shell import clean_env, run

from maze_core import RunContext
from maze_core.env import GymMazeEnv
from maze_core.errors import ConfigurationError
from maze_core.training.rollout import VectorEnvCollector


def short_cartpole():
    """CartPole truncated after 10 steps, so rollouts hold final observations."""
    return GymMazeEnv(gymnasium.make("CartPole-v1", max_episode_steps=10))


def model_for(env):
    rc = RunContext(env=env, algorithm="a2c", runner="dev", seed=0, silent=True)
    rc._build_model()
    return rc._model


def test_a_worker_collects_a_whole_rollout_as_arrays_it_owns():
    model = model_for(short_cartpole)
    worker = RolloutWorker(short_cartpole, model, n_envs=2, seed=5)
    first = worker.collect(flat_weights(model), n_steps=25)
    rollout = first["rollout"]
    assert rollout["rewards"].shape == (25, 2) and rollout["rewards"].dtype == np.float32
    assert rollout["actors"][(0, 0)]["observations"]["observation"].shape == (25, 2, 4)
    for name in ("terminated", "truncated", "env_step_ends", "log_probs", "values", "next_values"):
        assert rollout[name].shape == (25, 2), name
    assert rollout["truncated"].any(), "10-step episodes in a 25-step rollout end by truncation"
    # the behaviour policy's log-probs and the critic's values, computed by the worker while acting
    assert (rollout["log_probs"] < 0).all()
    observations = torch.from_numpy(rollout["actors"][(0, 0)]["observations"]["observation"])
    with torch.no_grad():
        values = model.critic.predict_value({"observation": observations}, actor_id=(0, 0))
    assert np.allclose(rollout["values"], values.numpy(), atol=1e-5)
    episodes = first["episodes"]
    ended = (rollout["terminated"] | rollout["truncated"]).sum()
    assert len(episodes["returns"]) == len(episodes["lengths"]) == ended
    assert all(1 <= length <= 10 for length in episodes["lengths"])

    kept = rollout["actors"][(0, 0)]["observations"]["observation"].copy()
    second = worker.collect(None, n_steps=25)
    assert np.array_equal(rollout["actors"][(0, 0)]["observations"]["observation"], kept)
    assert not np.array_equal(second["rollout"]["rewards"], np.zeros((25, 2)))
    assert second["episodes"]["returns"], "the episodes of the first call are not reported again"
    worker.close()


def test_weights_travel_as_one_flat_vector_and_the_worker_acts_with_them():
    model = model_for(short_cartpole)
    worker = RolloutWorker(short_cartpole, model, n_envs=1, seed=0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter))
    vector = flat_weights(model)
    assert vector.ndim == 1 and vector.size == sum(p.numel() for p in model.parameters())
    vector.setflags(write=False)  # as Ray hands it over
    worker.collect(vector, n_steps=1)
    for key, value in model.state_dict()["policies"].items():
        for name, tensor in value.items():
            assert torch.equal(worker.model.state_dict()["policies"][key][name], tensor)
    other = copy.deepcopy(model)
    with pytest.raises(ValueError, match="got 3 weights for a model with"):
        load_flat_weights(other, np.zeros(3, dtype=np.float32))
    worker.close()


def test_a_rollout_survives_the_trip_through_arrays():
    """Multi-step env: two actors with their own spaces, rows into the time axis."""
    model = model_for(TwoStepEnv)
    from maze_core.env.vector import SequentialVectorEnv

    collector = VectorEnvCollector(SequentialVectorEnv([TwoStepEnv] * 2), seed=1)
    rollout = collector.collect(model, n_steps=7)
    back = rollout_from_arrays(rollout_to_arrays(rollout), torch.device("cpu"))
    assert back.actor_ids == rollout.actor_ids and set(back.actors) == set(rollout.actors)
    for actor, transitions in rollout.actors.items():
        assert torch.equal(back.actors[actor].rows, transitions.rows)
        for part in ("observations", "actions", "latents"):
            assert getattr(back.actors[actor], part).keys() == getattr(transitions, part).keys()
            for key, value in getattr(transitions, part).items():
                assert torch.equal(getattr(back.actors[actor], part)[key], value)
    for field in dataclasses.fields(rollout):
        if isinstance(getattr(rollout, field.name), torch.Tensor):
            assert torch.equal(getattr(back, field.name), getattr(rollout, field.name)), field.name
    collector.close()


def test_the_rollouts_of_several_workers_join_along_the_env_axis():
    model = model_for(short_cartpole)
    workers = [RolloutWorker(short_cartpole, model, n_envs=2, seed=seed) for seed in (0, 2)]
    parts = [worker.collect(None, n_steps=25)["rollout"] for worker in workers]
    assert parts[0]["truncated"].any()
    joined = merge_rollouts(parts)
    observations = joined["actors"][(0, 0)]["observations"]["observation"]
    assert observations.shape == (25, 4, 4)
    assert np.array_equal(observations[:, 2:], parts[1]["actors"][(0, 0)]["observations"]["observation"])
    for name in ("rewards", "truncated", "log_probs", "values", "next_values"):
        assert np.array_equal(joined[name], np.concatenate([parts[0][name], parts[1][name]], axis=1))
    rollout = rollout_from_arrays(joined, torch.device("cpu"))
    assert (rollout.n_steps, rollout.n_envs) == (25, 4)

    parts[1]["actor_ids"] = [(1, 0)] * 25
    with pytest.raises(Exception, match="ray workers 0 and 1 stepped different actors"):
        merge_rollouts(parts)
    for worker in workers:
        worker.close()


def test_evaluation_on_workers_runs_the_episodes_one_process_would():
    """Two workers with two evaluation envs each, seeded as envs 0-1 and 2-3 of one vector env."""
    from maze_core.env.vector import SequentialVectorEnv
    from maze_core.training.evaluator import RolloutEvaluator

    model = model_for(short_cartpole)
    in_one_process = RolloutEvaluator(
        SequentialVectorEnv([short_cartpole] * 4), n_episodes=10, deterministic=True
    )
    returns, lengths = in_one_process.episodes(model.policy, seed=11)
    workers = [RolloutWorker(short_cartpole, model, n_envs=1, seed=0) for _ in range(2)]
    # RolloutEvaluator's spread of 10 episodes over 4 envs: 3, 3, 2, 2 (as RayCollector.evaluate splits)
    first = workers[0].evaluate(flat_weights(model), n_envs=2, n_episodes=6, seed=11, deterministic=True)
    second = workers[1].evaluate(None, n_envs=2, n_episodes=4, seed=13, deterministic=True)
    assert len(first[0]) == 6 and len(second[0]) == 4
    on_workers = zip(first[0] + second[0], first[1] + second[1], strict=True)
    assert sorted(on_workers) == sorted(zip(returns, lengths, strict=True))
    for worker in workers:
        worker.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_envs": 8}, "set runner.n_workers and runner.envs_per_worker instead"),
        ({"n_workers": 0}, "runner.n_workers=0 is invalid: it must be an integer >= 1"),
        ({"envs_per_worker": 1.5}, "runner.envs_per_worker=1.5 is invalid"),
        ({"num_cpus_per_worker": 0}, "runner.num_cpus_per_worker=0 is invalid: it must be a number > 0"),
        ({"rollout_timeout_s": -1}, "runner.rollout_timeout_s=-1 is invalid"),
        ({"max_worker_restarts": -1}, "runner.max_worker_restarts=-1 is invalid"),
        ({"address": ""}, "runner.address='' is invalid"),
        ({"prefetch": "yes"}, "runner.prefetch='yes' is invalid"),
        ({"eval_on_workers": 1}, "runner.eval_on_workers=1 is invalid"),
        ({"normalize_rewards": True}, "runner.normalize_rewards: the ray runner does not normalize yet"),
    ],
)
def test_bad_runner_options_fail_at_construction(options, message):
    overrides = {f"runner.{name}": value for name, value in options.items()}
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(".", r"\.")):
        RunContext(env="CartPole-v1", runner="ray", overrides=overrides)


def test_runner_options_from_the_command_line_are_typed_and_recorded():
    from maze_core.overrides import parse_overrides

    overrides = parse_overrides(
        ["runner.address=auto", "runner.num_cpus_per_worker=0.5", "runner.n_workers=3"], {"runner": "ray"}
    )
    assert overrides == {"runner.address": "auto", "runner.num_cpus_per_worker": 0.5, "runner.n_workers": 3}
    rc = RunContext(env="CartPole-v1", runner="ray", overrides=overrides)
    assert rc.runner.n_envs == 6
    assert rc.runner.settings() == {
        "n_envs": 6,
        "n_eval_envs": 4,
        "eval_episodes": 8,
        "torch_threads": 1,
        "native_vector_env": True,
        "normalize_observations": False,
        "normalize_rewards": False,
        "step_timeout_s": 600.0,
        "address": "auto",
        "n_workers": 3,
        "envs_per_worker": 2,
        "num_cpus_per_worker": 0.5,
        "max_worker_restarts": 3,
        "rollout_timeout_s": 300.0,
        "prefetch": False,
        "eval_on_workers": False,
    }


def test_only_the_ray_runner_imports_ray(tmp_path):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['maze', 'plugins', 'list']\n"
        "try:\n"
        "    runpy.run_module('maze_core', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "assert 'ray' not in sys.modules, 'maze plugins list imported ray'\n"
        "from maze_core import RunContext, plugins\n"
        "plugins.load('runner', 'ray')\n"
        "for runner in ('dev', 'local'):\n"
        "    rc = RunContext(env='CartPole-v1', runner=runner, silent=True, overrides={\n"
        "        'algorithm.epoch_length': 1, 'algorithm.n_rollout_steps': 4, 'runner.n_envs': 1,\n"
        "        'runner.eval_episodes': 0})\n"
        "    rc.train(n_epochs=1)\n"
        "    rc.close()\n"
        "print('ray imported:', 'ray' in sys.modules)\n"
    )
    output = run(sys.executable, "-c", code, cwd=tmp_path, env=clean_env()).stdout  # its runs go to ./outputs
    assert output.rstrip().endswith("ray imported: False")

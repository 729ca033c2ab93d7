"""Case 7: a config cannot ask for more than the machine has. Torch threads are bounded by the CPUs
this process may use, envs by memory: an absurd count at construction, a rollout whose buffers and
network activations would not fit before anything is allocated; each is one line naming the
field, the value and the limit."""

from __future__ import annotations

import time

import pytest
from safety_support import QUICK_OVERRIDES, cli, one_line_error

from maze_core import RunContext
from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError
from maze_core.runners import MIN_BYTES_PER_ENV, usable_cpus
from maze_core.training import memory


def test_more_torch_threads_than_cpus_is_one_line_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cpus = usable_cpus()
    one_line_error(
        cli("train", "--env", "CartPole-v1", "--set", "runner.torch_threads=1000000000"),
        f"runner.torch_threads=1000000000 is more than the {cpus} CPUs this process may use",
        f"set runner.torch_threads to at most {cpus}",
    )
    RunContext(env="CartPole-v1", overrides={"runner.torch_threads": cpus}, run_dir=tmp_path / "all")


def test_absurd_env_counts_are_refused_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(
        cli("train", "--env", "CartPole-v1", "--set", f"runner.n_envs={10**30}"),
        f"runner.n_envs={10**30} is more envs than this machine's memory can hold",
        f"each needs at least {MIN_BYTES_PER_ENV} bytes",
    )
    with pytest.raises(ConfigurationError, match=r"^runner.n_eval_envs=10{30} is more envs"):
        RunContext(env="CartPole-v1", overrides={"runner.n_eval_envs": 10**30})


def test_a_rollout_whose_activations_do_not_fit_is_refused_before_allocating(tmp_path, monkeypatch):
    """100000 CartPole envs: the native vector env and its buffers (0.6 GiB) would fit, the A2C
    update over 100 steps x 100000 envs (about 4 KiB of activations per sample) would not."""
    monkeypatch.setattr(memory, "available_memory", lambda device="cpu": 8 * 2**30)
    overrides = {**QUICK_OVERRIDES, "runner.n_envs": 100_000, "algorithm.n_rollout_steps": 100}
    start = time.monotonic()
    with RunContext(env="CartPole-v1", overrides=overrides, run_dir=tmp_path, silent=True) as context:
        with pytest.raises(
            ConfigurationError,
            match=r"^a rollout of algorithm.n_rollout_steps=100 on runner.n_envs=100000 envs needs about "
            r"\d+\.\d GiB of memory \(0\.\d GiB of buffers, \d+\.\d GiB for the networks' activations over "
            r"its 10,000,000 samples\), but only 8\.0 GiB are available",
        ):
            context.train(1)
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(("available_gib", "fits"), [(128, True), (16, False)])
def test_a_huge_batch_is_refused_only_where_it_does_not_fit(monkeypatch, available_gib, fits):
    """The same rollout (100000 envs x 100 steps, about 40 GiB with the A2C networks) runs on a
    machine with the memory for it."""
    monkeypatch.setattr(memory, "available_memory", lambda device="cpu": available_gib * 2**30)
    context = RunContext(env="CartPole-v1", silent=True)
    context._build_model()
    env = context.env_factory()
    arguments = (env.observation_spaces_dict[0], env.action_spaces_dict[0], context._model, ActorID(0, 0))
    if fits:
        memory.check_rollout_memory(100, 100_000, *arguments, behaviour=False)
    else:
        with pytest.raises(ConfigurationError, match="needs about"):
            memory.check_rollout_memory(100, 100_000, *arguments, behaviour=False)

"""The ``cuda`` device plugin. GPU tests skip without a visible GPU (CI has none)."""

import pytest
import torch

from maze_core import RunContext
from maze_core.errors import ConfigurationError

QUICK = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 8,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
}
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="device 'cuda'.*(no NVIDIA GPU|no CUDA support)"):
        RunContext(env="CartPole-v1", device="cuda", overrides=QUICK, run_dir=tmp_path, silent=True)


@pytest.mark.cuda
@needs_gpu
def test_training_on_the_gpu_keeps_model_buffers_and_losses_there(tmp_path):
    rc = RunContext(env="CartPole-v1", device="cuda", overrides=QUICK, run_dir=tmp_path, seed=0, silent=True)
    rc.train(n_epochs=1)
    assert all(p.device.type == "cuda" for p in rc._model.parameters())
    rollout = rc._trainer.collector.collect(rc._model, 4)
    assert rollout.rewards.device.type == "cuda"
    assert all(t.device.type == "cuda" for t in next(iter(rollout.actors.values())).observations.values())
    rc.close()
    assert torch.load(tmp_path / "state_dict.pt", weights_only=True)


@pytest.mark.cuda
@needs_gpu
def test_an_index_beyond_the_visible_gpus_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="GPU"):
        RunContext(
            env="CartPole-v1",
            device=f"cuda:{torch.cuda.device_count()}",
            overrides=QUICK,
            run_dir=tmp_path,
            silent=True,
        )

"""Memory checks: a rollout (or any batch of steps) that would not fit is refused before anything
is allocated, with the figures, rather than failing deep inside numpy or torch."""

from __future__ import annotations

import os

import numpy as np
import torch

from maze_core.errors import ConfigurationError


def check_rollout_memory(
    n_steps: int, n_envs: int, observation_space, action_space, model, actor, behaviour: bool
) -> None:
    """Refuse, before allocating, a rollout that would not fit in the available memory: its buffers
    and (on the CPU) the activations of one pass of the networks over all its samples: with
    ``behaviour`` the collector's critic pass (the update may then take minibatches, as PPO's
    does), without it the update's pass of policy and critic with gradients (A2C)."""
    available = available_memory()
    if available is None:
        return
    per_env_step = sum(
        np.dtype(numpy_dtype(space)).itemsize * int(np.prod(space.shape, dtype=np.int64))
        for space in (*observation_space.spaces.values(), *action_space.spaces.values())
    )
    # the numpy buffers and their copy on the training device, rewards and flags, a row view per step
    buffers = n_steps * (2 * n_envs * (per_env_step + 7) + 400)
    activations = 0
    if buffers <= available and _device(model).type == "cpu":
        per_sample = _activation_bytes(model, observation_space, actor, policy=not behaviour)
        activations = n_steps * n_envs * per_sample
    if buffers + activations > available:
        raise ConfigurationError(
            f"a rollout of algorithm.n_rollout_steps={n_steps} on runner.n_envs={n_envs} envs needs about "
            f"{(buffers + activations) / 2**30:.1f} GiB of memory ({buffers / 2**30:.1f} GiB of buffers, "
            f"{activations / 2**30:.1f} GiB for the networks' activations over its {n_steps * n_envs:,} "
            f"samples), but only {available / 2**30:.1f} GiB are available; lower "
            "algorithm.n_rollout_steps or runner.n_envs"
        )


def _activation_bytes(model, observation_space, actor, policy: bool) -> int:
    """Bytes per sample that autograd keeps while the critic (and the ``policy``) evaluate a batch
    with gradients (what an update holds until its backward pass, the bulk of its memory; a pass
    without gradients needs about as much for its largest layers), measured on two probe batches
    of zero observations: their difference leaves out what does not grow with the batch (the
    weights). A model that cannot be probed counts 0 (training reports it)."""

    def saved_bytes(n: int) -> int:
        storages = {}

        def pack(tensor):
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return tensor

        observation = {
            key: torch.from_numpy(np.zeros((n, *space.shape), dtype=numpy_dtype(space))).to(_device(model))
            for key, space in observation_space.spaces.items()
        }
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            if policy:
                model.policy.distribution(observation, actor_id=actor).entropy()
            model.critic.predict_value(observation, actor_id=actor)
        return sum(storages.values())

    try:
        with torch.random.fork_rng(devices=[]):  # the probe leaves the run's random numbers alone
            return max(saved_bytes(16) - saved_bytes(8), 0) // 8
    except Exception:  # noqa: BLE001 - a model the probe cannot run is left to the real update
        return 0


def _device(model) -> torch.device:
    return next(iter(model.parameters())).device


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes of memory available to new allocations on ``device`` (a GPU's free memory; for the
    CPU, Linux's MemAvailable), or None if unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as meminfo:  # noqa: PTH123
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def numpy_dtype(space) -> np.dtype:
    dtype = np.dtype(space.dtype) if space.dtype is not None else np.dtype(np.float32)
    return np.dtype(np.float32) if dtype == np.float64 else dtype

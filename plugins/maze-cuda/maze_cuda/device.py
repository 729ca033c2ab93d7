"""The ``cuda`` device: model, rollout buffers and losses on an NVIDIA GPU; envs stay on the CPU."""

from __future__ import annotations

from maze_core.errors import ConfigurationError
from maze_core.training.devices import Device


class CUDADevice(Device):
    name = "cuda"

    def is_available(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def unavailable_reason(self) -> str:
        import torch

        if not torch.backends.cuda.is_built():
            return "this torch build has no CUDA support; install a CUDA build of torch or use device='cpu'"
        return "no NVIDIA GPU is visible (check `nvidia-smi` and CUDA_VISIBLE_DEVICES) - or use device='cpu'"

    def torch_device(self, spec: str):
        import torch

        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigurationError(
                f"device {spec!r}: only {torch.cuda.device_count()} GPU(s) visible "
                f"(indices 0..{torch.cuda.device_count() - 1})"
            )
        return device

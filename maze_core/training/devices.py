"""Compute devices. ``cpu`` is built in; other devices (``cuda``) come from plugins.

A device name is ``"<kind>"`` or ``"<kind>:<index>"``; the kind is looked up in the registry
(kind ``device``), so validating a name never imports torch.
"""

from __future__ import annotations

from maze_core.errors import ConfigurationError


class Device:
    """A kind of compute device. Subclasses check availability and build the torch device."""

    #: registered name of the kind, e.g. "cpu" or "cuda"
    name: str = ""

    def is_available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return f"device {self.name!r} is not available on this machine"

    def torch_device(self, spec: str):
        import torch

        return torch.device(spec)


class CPUDevice(Device):
    name = "cpu"

    def torch_device(self, spec: str):
        import torch

        if spec != "cpu":
            raise ConfigurationError(f"device {spec!r}: the CPU device takes no index; use 'cpu'")
        return torch.device("cpu")


def device_kind(spec: str) -> str:
    return str(spec).split(":", 1)[0]


def check_device_name(spec: str, field: str = "device") -> None:
    """Raise a ConfigurationError unless ``spec`` names a registered device kind (no torch import)."""
    from maze_core import plugins

    if not isinstance(spec, str) or not spec:
        raise ConfigurationError(f"{field} must be a device name such as 'cpu' or 'cuda:0', got {spec!r}")
    kind = device_kind(spec)
    available = plugins.names("device")
    if kind not in available:
        raise ConfigurationError(
            f"{field}={spec!r}: unknown device {kind!r}. Available devices: {', '.join(available)}. "
            "Install the plugin that provides it (e.g. maze-cuda for 'cuda')."
        )


def resolve_device(spec: str):
    """The torch device for ``spec``; raises a ConfigurationError if it is unknown or unavailable."""
    from maze_core import plugins

    spec = str(spec)
    check_device_name(spec)
    device: Device = plugins.load("device", device_kind(spec))()
    if not device.is_available():
        raise ConfigurationError(f"device {spec!r}: {device.unavailable_reason()}")
    return device.torch_device(spec)

"""Device names a run config or option may give, and the torch device they resolve to on this machine."""

from __future__ import annotations

import re

from gpbench.errors import ConfigError

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_name(name: object, option: str = "device") -> None:
    """A device name gpbench accepts, whether or not this machine has that device."""
    if not isinstance(name, str) or not _DEVICE.match(name):
        raise ConfigError(f"{option}: {name!r} is not allowed; allowed: auto, cpu, cuda, cuda:N")


def resolve_device(name: object, option: str = "device"):
    """``auto`` (a CUDA GPU where there is one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N`` as a torch device;
    ``option`` names the config key or command-line option in the error."""
    import torch

    check_device_name(name, option)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option}: {name!r} asked for, but this machine has no CUDA GPU; use auto or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"{option}: {name!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    return device

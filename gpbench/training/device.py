"""Device names a run config or option may give, the torch device they resolve to on this machine, and how many
CPU threads a run uses when its config leaves ``threads`` unset (docs/performance.md, "Threads")."""

from __future__ import annotations

import os
import re
from pathlib import Path

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


# Measured on a 2-core Xeon, torch 2.14.1, one training iteration in process, idle machine: the toy critic at DIM 128
# (17 MFLOP per forward of a batch of 256) runs 34.7 it/s on one thread and 37.3 on two, and as a whole process
# beside other work 3-5x slower on two; at DIM 256 (68 MFLOP) two threads give 1.43x, the MNIST critic at DIM 16
# (153 MFLOP a batch of 50) 1.50x, at DIM 64 1.95x.
ONE_THREAD_BELOW_FLOPS = 40e6


def cpu_list_size(text: str) -> int:
    """How many CPUs a Linux CPU list names ("0-3,8" -> 5)."""
    count = 0
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count


def physical_cores() -> int:
    """The cores this process may run on, counting hyper-threads of one core once (they share its arithmetic)."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        per_core = cpu_list_size(Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list").read_text())
    except (OSError, ValueError):
        per_core = 1
    return max(1, logical // max(1, per_core))


def default_threads(critic_flops: float, cores: int) -> int:
    """Threads for a CPU run that does not set them: one where a critic forward on a training batch is too small
    to share (below ONE_THREAD_BELOW_FLOPS), else one per physical core: never more threads than cores, so a run
    does not oversubscribe the machine."""
    return 1 if critic_flops < ONE_THREAD_BELOW_FLOPS else max(1, cores)


def critic_flops(generator, critic, batch: int) -> float:
    """FLOPs of one critic forward on a batch of ``batch`` generated samples; the generator is fed zeros, so no
    random number is drawn and a seeded run stays the same."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad():
        samples = generator(torch.zeros(batch, generator.noise_dim))
        with FlopCounterMode(display=False) as counter:
            critic(samples)
    return float(counter.get_total_flops())

"""What a run's checkpoint and snapshots hold (the files themselves are RunDir's), and the RNG states that make a
resume bitwise-identical on CPU. They see a :class:`TrainingState` (the nets, their optimizers, the data stream)
and the loop's :class:`Counters`, never the trainer."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from gpbench.training.config import identity
from gpbench.data.streams import numpy_state_from_tensors, numpy_state_to_tensors
from gpbench.errors import ConfigError, RunDirError


@dataclass(frozen=True)
class TrainingState:
    """What a checkpoint saves and a resume loads back in place."""
    generator: torch.nn.Module
    critic: torch.nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    stream: object                     # the real-data stream (state_dict / load_state_dict)


@dataclass(frozen=True)
class Counters:
    """Where the loop stands: generator iterations done, critic steps taken, training seconds so far."""
    iteration: int = 0
    critic_step: int = 0
    elapsed_seconds: float = 0.0


def check_same_run(where: str, previous: dict | None, config: dict) -> None:
    """The run held in ``where`` must be the one ``config`` describes (keys that only change speed aside)."""
    if previous is None:
        return
    before, now = identity(previous), identity(config)
    differing = sorted(key for key in set(before) | set(now) if before.get(key) != now.get(key))
    if differing:
        key = differing[0]
        raise ConfigError(f"{where} holds a run with another config ({key}: {before.get(key)!r} there, "
                          f"{now.get(key)!r} now); to keep it, undo the change or train into another --out (in a "
                          "suite: another suite name); to train afresh here, move that directory aside")


def rng_state(device: torch.device) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": numpy_state_to_tensors(np.random.get_state()),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None}


def restore_rng(state: dict) -> None:
    """The generators' states are CPU byte tensors, wherever the checkpoint was mapped to."""
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(numpy_state_from_tensors(state["numpy"]))
    random.setstate(state["python"])
    if state["cuda"] is not None:
        torch.cuda.set_rng_state_all([cuda_state.cpu() for cuda_state in state["cuda"]])


def all_finite(modules, optimizers) -> bool:
    """Parameters and optimizer state free of inf and NaN (one host sync per device; checked at checkpoints only).

    The state mixes devices on a GPU: Adam keeps its ``step`` count on the CPU beside CUDA moments."""
    tensors = [p for module in modules for p in module.parameters()]
    tensors += [value for optimizer in optimizers for state in optimizer.state.values() for value in state.values()
                if torch.is_tensor(value) and value.is_floating_point()]
    flags: dict[torch.device, list[torch.Tensor]] = {}
    for tensor in tensors:
        flags.setdefault(tensor.device, []).append(torch.isfinite(tensor).all())
    return all(bool(torch.stack(device_flags).all()) for device_flags in flags.values())


def checkpoint_state(state: TrainingState, counters: Counters, config: dict, device: torch.device,
                     last_real: torch.Tensor | None) -> dict:
    """Everything a resume needs (rundir.CHECKPOINT_KEYS, and the last real batch for a penalty on g_loss)."""
    return {
        "iteration": counters.iteration,
        "critic_step": counters.critic_step,
        "elapsed_seconds": counters.elapsed_seconds,
        "config": identity(config),
        "generator": state.generator.state_dict(),
        "critic": state.critic.state_dict(),
        "g_optimizer": state.g_optimizer.state_dict(),
        "d_optimizer": state.d_optimizer.state_dict(),
        "stream": state.stream.state_dict(),
        "rng": rng_state(device),
        "last_real": None if last_real is None else last_real.cpu(),
    }


def snapshot_state(generator: torch.nn.Module, counters: Counters) -> dict:
    """The generator alone, kept for metric-vs-iteration curves (``gpbench eval``)."""
    return {"iteration": counters.iteration, "generator": generator.state_dict(),
            "elapsed_seconds": counters.elapsed_seconds}


def restore_checkpoint(state: TrainingState, saved: dict, where: str,
                       config: dict) -> tuple[Counters, torch.Tensor | None]:
    """Load ``saved`` (read from ``where``) into ``state`` and the RNGs; where the loop stood, and the last real
    batch if the checkpoint kept one."""
    check_same_run(where, saved.get("config"), config)
    try:
        state.generator.load_state_dict(saved["generator"])
        state.critic.load_state_dict(saved["critic"])
        state.g_optimizer.load_state_dict(saved["g_optimizer"])
        state.d_optimizer.load_state_dict(saved["d_optimizer"])
        state.stream.load_state_dict(saved["stream"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise RunDirError(f"{where} holds models or optimizers of another shape than this config builds "
                          f"({type(error).__name__}: {str(error).splitlines()[0]}); train into another --out, or "
                          "move that directory aside") from None
    restore_rng(saved["rng"])
    return Counters(saved["iteration"], saved["critic_step"], saved["elapsed_seconds"]), saved.get("last_real")

"""What a run's checkpoint and snapshots hold (the files themselves are RunDir's), and the RNG states that make a
resume bitwise-identical on CPU; the trainer hands itself over and gets its state back."""

from __future__ import annotations

import random

import numpy as np
import torch

from gpbench.training.config import identity
from gpbench.data.streams import numpy_state_from_tensors, numpy_state_to_tensors
from gpbench.errors import ConfigError, RunDirError


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


def checkpoint_state(trainer, elapsed: float) -> dict:
    """Everything a resume needs (rundir.CHECKPOINT_KEYS, and the last real batch for a penalty on g_loss)."""
    return {
        "iteration": trainer.iteration,
        "critic_step": trainer.critic_step,
        "elapsed_seconds": elapsed,
        "config": identity(trainer.config),
        "generator": trainer.generator.state_dict(),
        "critic": trainer.critic.state_dict(),
        "g_optimizer": trainer.g_optimizer.state_dict(),
        "d_optimizer": trainer.d_optimizer.state_dict(),
        "stream": trainer.stream.state_dict(),
        "rng": rng_state(trainer.device),
        "last_real": None if trainer.engine.last_real is None else trainer.engine.last_real.cpu(),
    }


def snapshot_state(trainer, elapsed: float) -> dict:
    """The generator alone, kept for metric-vs-iteration curves (``gpbench eval``)."""
    return {"iteration": trainer.iteration, "generator": trainer.generator.state_dict(), "elapsed_seconds": elapsed}


def restore_checkpoint(trainer, state: dict, where: str) -> None:
    """Put the trainer back where ``state`` (read from ``where``) left it."""
    check_same_run(where, state.get("config"), trainer.config)
    trainer.iteration, trainer.critic_step = state["iteration"], state["critic_step"]
    trainer.elapsed_before = state["elapsed_seconds"]
    try:
        trainer.generator.load_state_dict(state["generator"])
        trainer.critic.load_state_dict(state["critic"])
        trainer.g_optimizer.load_state_dict(state["g_optimizer"])
        trainer.d_optimizer.load_state_dict(state["d_optimizer"])
        trainer.stream.load_state_dict(state["stream"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise RunDirError(f"{where} holds models or optimizers of another shape than this config builds "
                          f"({type(error).__name__}: {str(error).splitlines()[0]}); train into another --out, or "
                          "move that directory aside") from None
    if state.get("last_real") is not None:       # the next generator step's batch for a penalty on g_loss
        trainer.engine.restore_last_real(state["last_real"])
    elif trainer.loss.penalty.on_generator_loss:  # a checkpoint from before it was saved: draw one batch instead
        trainer.engine.restore_last_real(trainer.real_batch())
    restore_rng(state["rng"])

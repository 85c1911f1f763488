"""How a run's steps are launched (docs/engines.md); what a step computes lives in
:class:`gpbench.training.train.Trainer`.

- ``eager``: each step a fresh batch tensor and host-side schedule values, one dispatched kernel at a time.
- ``graph``: the same step bodies made capture-ready (a static real-batch buffer filled by a non-blocking copy
  from pinned memory, scheduled penalty values and a decaying learning rate as device scalars set before each
  step, capturable optimizers) and, on CUDA, each critic and generator step captured once as a CUDA graph after
  a warm-up on a side stream, then replayed. On the CPU the capture-ready steps run uncaptured ("static"): the
  tests compare them with the eager loop there.

``engine: auto`` (the default) is ``graph`` on a CUDA device and ``eager`` elsewhere. A setting that cannot be
captured runs eagerly, and a capture that fails continues uncaptured, each with one log line saying why;
``Engine.name`` is what the run used, recorded in status.json.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch

from gpbench.data import get_dataset

log = logging.getLogger(__name__)

ENGINES = ("auto", "eager", "graph")
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
WARMUP_CALLS = 3            # uncaptured calls of each step on a side stream before its capture (cudnn, autograd)


def capture_blocker(config: dict) -> str | None:
    """Why a run config cannot be captured on CUDA, or None."""
    if config["compile"]:
        return "compile: true (torch.compile brings its own graphs; the two are alternatives)"
    return None


COMPILERS = ("c++", "g++", "clang++")        # what torch.compile's inductor needs to build its kernels


def compiled(module: torch.nn.Module, config: dict) -> torch.nn.Module | Callable:
    """``torch.compile(module)`` under ``compile: true``, or the module itself: without the option, or (with one
    log line, as the engines' other fallbacks) when no C++ compiler is on the PATH, where inductor would fail at
    the first step."""
    import os
    import shutil

    if not config["compile"]:
        return module
    if not any(shutil.which(name) for name in (os.environ.get("CXX", ""), *COMPILERS) if name):
        log.info("compile: true, but no C++ compiler (%s, or $CXX) is on the PATH for torch.compile; training "
                 "eagerly", ", ".join(COMPILERS))
        return module
    return torch.compile(module)


def memory_format(config: dict, device: torch.device) -> torch.memory_format:
    """The layout of the conv nets' weights and image batches: ``auto`` is channels_last on a GPU (cuDNN's NHWC
    kernels then need no layout transposes around each convolution) and contiguous elsewhere."""
    asked = config["memory_format"]
    if asked == "auto":
        image_nets = not get_dataset(config["dataset"]).is_toy
        asked = "channels_last" if image_nets and device.type == "cuda" else "contiguous"
    return torch.channels_last if asked == "channels_last" else torch.contiguous_format


def choose_engine(config: dict, device: torch.device) -> tuple[str, str | None]:
    """(the engine to build: "eager", "cuda-graph" or "static", why the asked-for engine was not used or None)."""
    asked = config["engine"]
    if asked == "eager":
        return "eager", None
    if device.type != "cuda":
        return ("static", None) if asked == "graph" else ("eager", None)
    blocker = capture_blocker(config)
    return ("eager", f"engine {asked}: runs eagerly, {blocker}") if blocker else ("cuda-graph", None)


class LearningRates:
    """The optimizers' learning rates under the run's decay: Python floats, or (``on_device``) 0-dim device
    tensors filled in place, which a captured step reads at replay. A loaded checkpoint replaces the parameter
    groups' values; the next :meth:`set` (before any capture) puts a device tensor back."""

    def __init__(self, trainer, on_device: bool):
        self.bases = trainer.learning_rates()
        self.on_device = on_device
        self.device = trainer.device

    def set(self, factor: float) -> None:
        for optimizer, base in self.bases:
            for group in optimizer.param_groups:
                value = base * factor
                if not self.on_device:
                    group["lr"] = value
                elif torch.is_tensor(group["lr"]) and group["lr"].device == self.device:
                    group["lr"].fill_(value)
                else:
                    group["lr"] = torch.tensor(float(value), device=self.device)


def device_learning_rate(config: dict, device: torch.device, engine: str) -> bool:
    """A decaying learning rate lives on the device for capture-ready steps, and on a GPU for the eager loop too
    (so that both engines run the same optimizer arithmetic there)."""
    return config["lr_decay"] != "none" and (engine != "eager" or device.type == "cuda")


class EagerEngine:
    """Gulrajani's loop as written: a fresh real batch per critic step, schedules read on the host."""

    name = "eager"

    def __init__(self, trainer):
        self.trainer = trainer
        self.last_real: torch.Tensor | None = None
        self.learning_rates = LearningRates(trainer, device_learning_rate(trainer.config, trainer.device, "eager"))

    def set_learning_rate(self, factor: float) -> None:
        self.learning_rates.set(factor)

    def restore_last_real(self, real: torch.Tensor) -> None:
        self.last_real = real.to(self.trainer.device)

    def critic_step(self, step: int) -> dict:
        self.last_real = self.trainer.real_batch()
        return self.trainer.critic_body(self.last_real, step)

    def generator_step(self, step: int) -> dict:
        return self.trainer.generator_body(self.last_real, step)


class CaptureFailed(RuntimeError):
    pass


class _Replayed:
    """One step body ``body(step)``: run as it is (``capture`` False), or warmed up on a side stream, captured
    once as a CUDA graph, then replayed; each call does exactly one step's work and returns that step's
    outputs (static ones when replayed). Only the step kind's structure may depend on ``step``: a replay
    repeats the captured one."""

    def __init__(self, body: Callable[[int], dict], capture: bool):
        self.body = body
        self.capture = capture
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.outputs: dict | None = None

    def __call__(self, step: int) -> dict:
        if not self.capture:
            return self.body(step)
        if self.graph is None and self.calls < WARMUP_CALLS:
            self.calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                outputs = self.body(step)
            torch.cuda.current_stream().wait_stream(side)
            return outputs
        if self.graph is None:
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph):
                    self.outputs = self.body(step)
            except RuntimeError as error:
                raise CaptureFailed(f"{type(error).__name__}: {str(error).splitlines()[0]}") from error
            self.graph = graph
        self.graph.replay()
        return dict(self.outputs)


class GraphEngine:
    """Capture-ready steps: the real batch in one static device buffer, non-constant schedules (the penalty's
    lambda and flex margins, a decaying learning rate) as device scalars filled before each step, one graph per
    step kind (critic / generator, penalty applied or not under ``every: k``)."""

    def __init__(self, trainer, capture: bool):
        self.trainer = trainer
        self.capture = capture
        self.name = "cuda-graph" if capture else "static"
        device = trainer.device
        penalty = trainer.loss.penalty
        self.schedules = penalty.schedules()
        self.values = {name: (torch.zeros((), device=device) if _scheduled(schedule) else schedule(0))
                       for name, schedule in self.schedules.items()}
        self.learning_rates = LearningRates(trainer, device_learning_rate(trainer.config, device, "graph"))
        self.real: torch.Tensor | None = None
        self.steps: dict[tuple, _Replayed] = {}

    def set_learning_rate(self, factor: float) -> None:
        self.learning_rates.set(factor)

    def _set_values(self, step: int) -> None:
        for name, schedule in self.schedules.items():
            if torch.is_tensor(self.values[name]):
                self.values[name].fill_(schedule(step))

    @property
    def last_real(self) -> torch.Tensor | None:
        return self.real

    def restore_last_real(self, real: torch.Tensor) -> None:
        self._load_real(real)

    def _load_real(self, batch: torch.Tensor) -> None:
        """Into the static buffer (allocated once, so every captured step reads the same address)."""
        if self.real is None:
            self.real = torch.empty(batch.shape, dtype=batch.dtype, device=self.trainer.device)
            if self.real.dim() == 4:
                self.real = self.real.contiguous(memory_format=self.trainer.memory_format)
        if self.real.is_cuda:
            batch = batch.pin_memory()           # the caching host allocator keeps it until the copy has run
        self.real.copy_(batch, non_blocking=True)

    def _run(self, kind: str, step: int) -> dict:
        penalty = self.trainer.loss.penalty
        active = penalty.applies_at(step) and penalty.lambda_at(step) != 0      # lambda 0: skip the penalty's work
        key = (kind, active)
        if key not in self.steps:
            body = self.trainer.critic_body if kind == "critic" else self.trainer.generator_body
            values = self.values if active else {**self.values, "lambda": 0.0}
            self.steps[key] = _Replayed(lambda at: body(self.real.detach(), at, values), self.capture)
        try:
            return self.steps[key](step)
        except CaptureFailed as error:            # the step's work is done uncaptured, and every later one
            log.warning("engine cuda-graph: capture of the %s step failed (%s); this run continues uncaptured",
                        kind, error)
            self.capture, self.name = False, "static (capture failed)"
            for replayed in self.steps.values():
                replayed.capture = False
            return self.steps[key](step)

    def critic_step(self, step: int) -> dict:
        self._load_real(torch.from_numpy(self.trainer.stream.next()))
        self._set_values(step)
        return self._run("critic", step)

    def generator_step(self, step: int) -> dict:
        self._set_values(step)
        return self._run("generator", step)


def _scheduled(schedule) -> bool:
    """A schedule whose value changes with the step (a constant stays a Python number: bitwise as eager)."""
    low, high = schedule.extremes()
    return low != high


def build_engine(trainer, kind: str):
    return EagerEngine(trainer) if kind == "eager" else GraphEngine(trainer, capture=kind == "cuda-graph")

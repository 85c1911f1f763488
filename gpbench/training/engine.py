"""How a run's steps are launched (docs/engines.md). An engine gets :class:`StepParts` — the two step bodies
(what a step computes: :class:`gpbench.training.train.Trainer`'s), one source of real batches, the device and
layout, the penalty and the optimizers — and nothing else of the run.

- ``eager``: each step a fresh batch tensor and host-side schedule values, one dispatched kernel at a time.
- ``graph``: the same step bodies made capture-ready (a static real-batch buffer filled by a non-blocking copy
  from pinned memory, scheduled penalty values and a decaying learning rate as device scalars set before each
  step, capturable optimizers) and, on CUDA, each critic and generator step captured once as a CUDA graph after
  a warm-up on a side stream, then replayed. On the CPU the capture-ready steps run uncaptured: the tests
  compare them with the eager loop there.

``engine: auto`` (the default) is ``graph`` on a CUDA device and ``eager`` elsewhere. A setting that cannot be
captured runs eagerly, and a capture that fails continues uncaptured, each with one log line saying why. An
engine's ``name`` is the config's word for it ("eager" or "graph") from the run config to status.json and
``gpbench cost``; ``captured`` says whether its steps replay as CUDA graphs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


def choose_engine(config: dict, device: torch.device) -> tuple[str, bool, str | None]:
    """(the engine to build, "eager" or "graph"; whether the graph engine captures its steps (on CUDA); why the
    asked-for engine was not used, or None)."""
    asked = config["engine"]
    if asked == "eager" or (asked == "auto" and device.type != "cuda"):
        return "eager", False, None
    if device.type != "cuda":
        return "graph", False, None
    blocker = capture_blocker(config)
    return ("eager", False, f"engine {asked}: runs eagerly, {blocker}") if blocker else ("graph", True, None)


@dataclass(frozen=True)
class StepParts:
    """What an engine launches, and all it sees of the run."""
    critic_body: Callable[..., dict]       # (real, step, values=None) -> statistics: one critic step's tensor work
    generator_body: Callable[..., dict]    # (real, step, values=None) -> statistics: one generator step's
    next_batch: Callable[[], torch.Tensor]     # the next real batch, on the host (the run's data stream)
    device: torch.device
    memory_format: torch.memory_format     # the image batches' layout
    penalty: object                        # the run's Penalty: its schedules, applies_at, lambda_at
    learning_rates: tuple                  # (optimizer, its base learning rate) for the generator and the critic
    decaying_lr: bool                      # the run's lr_decay is not "none"

    def placed(self, batch: torch.Tensor) -> torch.Tensor:
        """A host batch on the device, image batches in the run's layout."""
        batch = batch.to(self.device, non_blocking=True)
        return batch.contiguous(memory_format=self.memory_format) if batch.dim() == 4 else batch


class LearningRates:
    """The optimizers' learning rates under the run's decay: Python floats, or (``on_device``) 0-dim device
    tensors filled in place, which a captured step reads at replay. A loaded checkpoint replaces the parameter
    groups' values; the next :meth:`set` (before any capture) puts a device tensor back."""

    def __init__(self, parts: StepParts, on_device: bool):
        self.bases = parts.learning_rates
        self.on_device = on_device
        self.device = parts.device

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


def device_learning_rate(parts: StepParts, engine: str) -> bool:
    """A decaying learning rate lives on the device for capture-ready steps, and on a GPU for the eager loop too
    (so that both engines run the same optimizer arithmetic there)."""
    return parts.decaying_lr and (engine != "eager" or parts.device.type == "cuda")


class EagerEngine:
    """Gulrajani's loop as written: a fresh real batch per critic step, schedules read on the host."""

    name = "eager"
    captured = False

    def __init__(self, parts: StepParts):
        self.parts = parts
        self.last_real: torch.Tensor | None = None
        self.learning_rates = LearningRates(parts, device_learning_rate(parts, "eager"))

    def set_learning_rate(self, factor: float) -> None:
        self.learning_rates.set(factor)

    def restore_last_real(self, real: torch.Tensor) -> None:
        self.last_real = self.parts.placed(real)

    def critic_step(self, step: int) -> dict:
        self.last_real = self.parts.placed(self.parts.next_batch())
        return self.parts.critic_body(self.last_real, step)

    def generator_step(self, step: int) -> dict:
        return self.parts.generator_body(self.last_real, step)


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

    name = "graph"

    def __init__(self, parts: StepParts, capture: bool):
        self.parts = parts
        self.captured = capture
        self.schedules = parts.penalty.schedules()
        self.values = {name: (torch.zeros((), device=parts.device) if _scheduled(schedule) else schedule(0))
                       for name, schedule in self.schedules.items()}
        self.learning_rates = LearningRates(parts, device_learning_rate(parts, "graph"))
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
            self.real = torch.empty(batch.shape, dtype=batch.dtype, device=self.parts.device)
            if self.real.dim() == 4:
                self.real = self.real.contiguous(memory_format=self.parts.memory_format)
        if self.real.is_cuda:
            batch = batch.pin_memory()           # the caching host allocator keeps it until the copy has run
        self.real.copy_(batch, non_blocking=True)

    def _run(self, kind: str, step: int) -> dict:
        penalty = self.parts.penalty
        active = penalty.applies_at(step) and penalty.lambda_at(step) != 0      # lambda 0: skip the penalty's work
        key = (kind, active)
        if key not in self.steps:
            body = self.parts.critic_body if kind == "critic" else self.parts.generator_body
            values = self.values if active else {**self.values, "lambda": 0.0}
            self.steps[key] = _Replayed(lambda at: body(self.real.detach(), at, values), self.captured)
        try:
            return self.steps[key](step)
        except CaptureFailed as error:            # the step's work is done uncaptured, and every later one
            log.warning("engine graph: capture of the %s step failed (%s); this run continues uncaptured",
                        kind, error)
            self.captured = False
            for replayed in self.steps.values():
                replayed.capture = False
            return self.steps[key](step)

    def critic_step(self, step: int) -> dict:
        self._load_real(self.parts.next_batch())
        self._set_values(step)
        return self._run("critic", step)

    def generator_step(self, step: int) -> dict:
        self._set_values(step)
        return self._run("generator", step)


def _scheduled(schedule) -> bool:
    """A schedule whose value changes with the step (a constant stays a Python number: bitwise as eager)."""
    low, high = schedule.extremes()
    return low != high


def build_engine(parts: StepParts, name: str, capture: bool):
    """The engine ``choose_engine`` chose, launching ``parts``."""
    return EagerEngine(parts) if name == "eager" else GraphEngine(parts, capture)

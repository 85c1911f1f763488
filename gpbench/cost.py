"""``gpbench cost``: what a suite costs on this machine, before running it.

Every distinct run setting the suite uses (dataset, architecture, method, penalty, sizes; seeds and lengths
aside) is built as the runs build it (the same Trainer, device, amp, compile and cudnn.benchmark) and timed over
a few iterations after a warm-up; one dev-cost evaluation is timed too. Each run's projection is its iterations
times the time per iteration plus its dev evaluations. Runs that share a GPU (the suite's ``runs_per_gpu``) take
a share of a device; the wall-clock for N devices comes from a longest-first list schedule. Evaluation, Figure 1
and the tables are not included (on a GPU they are minutes beside days of training).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gpbench.config import RUNTIME_KEYS, resolve
from gpbench.data import get_dataset, images
from gpbench.errors import ConfigError, MissingDataError
from gpbench.pipeline import COST_FIELDS, GPU_SLOTS, gpu_slots, load_suite, plan, projected_seconds
from gpbench.train import Trainer

NOT_SPEED = RUNTIME_KEYS + ("seed", "iterations", "data_root", "train_subset", "preset_source", "dev_samples")
WARMUP_ITERATIONS = 2          # iteration 0 has no generator step; cudnn.benchmark and compile settle meanwhile
SYNTHETIC_IMAGES_PER_BATCH = 400


def signature(config: dict) -> str:
    """What decides a run's time per iteration: its config without seeds, lengths and logging cadences."""
    return json.dumps({key: value for key, value in sorted(config.items()) if key not in NOT_SPEED}, default=str)


@dataclass
class Timing:
    seconds_per_iteration: float
    iterations_timed: int | None          # None: read from a file of earlier measurements
    dev_seconds: float
    device: str

    @property
    def on_gpu(self) -> bool:
        return not self.device.startswith("CPU")


@dataclass
class RunCost:
    path: str
    config: dict = field(repr=False)
    timing: Timing
    hours: float
    slots: int                # gpu_slots of 12 per device it occupies (12 when it does not share)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_config(config: dict, workdir: Path, budget_seconds: float, min_iterations: int,
                max_iterations: int) -> Timing:
    """Seconds per generator iteration of ``config`` on this device, and of one dev-cost evaluation."""
    run_dir = workdir / hashlib.sha1(signature(config).encode()).hexdigest()[:12]
    trainer = Trainer({**config, "iterations": 10**9, "checkpoint_every": 10**9, "snapshot_every": 10**9,
                       "sample_every": 10**9, "log_every": 10**9, "dev_every": 10**9}, run_dir, progress=False)
    try:
        for iteration in range(WARMUP_ITERATIONS):
            trainer.train_iteration(iteration)
        _synchronize(trainer.device)
        start, timed = time.perf_counter(), 0
        while timed < max_iterations and (timed < min_iterations or time.perf_counter() - start < budget_seconds):
            trainer.train_iteration(WARMUP_ITERATIONS + timed)
            timed += 1
            _synchronize(trainer.device)
        per_iteration = (time.perf_counter() - start) / timed
        dev_start = time.perf_counter()
        if trainer.dev is not None:
            trainer.dev_statistics()
        _synchronize(trainer.device)
        return Timing(per_iteration, timed, time.perf_counter() - dev_start if trainer.dev is not None else 0.0,
                      device_name())
    finally:
        trainer.lock.release()


def _data_root_for(config: dict, synthetic_root: Path) -> str:
    """The suite's data where it is; a synthetic CIFAR-10 in its place where it is not (the time per iteration
    does not depend on the pixels)."""
    if get_dataset(config["dataset"]).family != "cifar10":
        return config["data_root"]
    try:
        images.load_cifar10(config["data_root"], "train", download=False)
        return config["data_root"]
    except MissingDataError:
        if not images.is_synthetic(synthetic_root):
            from gpbench.rehearsal import write_synthetic_cifar10

            write_synthetic_cifar10(synthetic_root, SYNTHETIC_IMAGES_PER_BATCH)
        return str(synthetic_root)


def timings_from_json(measured: dict) -> dict[str, Timing]:
    """The times ``gpbench cost --json`` wrote, to project a suite again without timing it."""
    return {key: Timing(iterations_timed=None, **{name: value[name] for name in COST_FIELDS})
            for key, value in measured.items()}


def suite_cost(suite_paths: list[str], budget_seconds: float = 20.0, min_iterations: int = 2,
               max_iterations: int = 300, threads: int | None = None, progress=print,
               measured: dict[str, Timing] | None = None) -> list[RunCost]:
    """Time each distinct setting of the suite once (or take its time from ``measured``) and project every run."""
    suite = load_suite(suite_paths)
    runs = plan(suite)
    timings: dict[str, Timing] = dict(measured or {})
    costs = []
    with tempfile.TemporaryDirectory(prefix="gpbench-cost-") as scratch:
        scratch = Path(scratch)
        for run in runs:
            config = resolve(run.config)
            config = {**config, "threads": threads or suite.get("threads", 1)}
            key = signature(config)
            if key not in timings:
                if measured is not None:
                    raise ConfigError(f"the measured times have no entry for {run.path}: run gpbench cost on the "
                                      "suite again without --from-json")
                config["data_root"] = _data_root_for(config, scratch / "data")
                timings[key] = time_config(config, scratch / "runs", budget_seconds, min_iterations, max_iterations)
                progress(f"{run.path}: {1000 * timings[key].seconds_per_iteration:.1f} ms/iteration "
                         f"({timings[key].iterations_timed} timed)")
            timing = timings[key]
            seconds = projected_seconds(config, timing.seconds_per_iteration, timing.dev_seconds)
            # GPU runs share a device as the suite says; a CPU process runs one run at a time
            shared = gpu_slots(run.dataset, suite.get("runs_per_gpu")) if timing.on_gpu else 0
            slots = shared or GPU_SLOTS
            costs.append(RunCost(run.path, config, timing, seconds / 3600, slots))
    return costs


def wall_clock_hours(costs: list[RunCost], devices: int) -> float:
    """Longest-first list schedule of the runs on ``devices`` devices of GPU_SLOTS slots each."""
    free_at = [[0.0] * GPU_SLOTS for _ in range(devices)]      # when each slot of each device frees up
    finish = 0.0
    for cost in sorted(costs, key=lambda c: -c.hours):
        best = None
        for device, slots in enumerate(free_at):
            order = sorted(range(GPU_SLOTS), key=lambda s: slots[s])[:cost.slots]
            start = max(slots[s] for s in order)
            if best is None or start < best[0]:
                best = (start, device, order)
        start, device, order = best
        for slot in order:
            free_at[device][slot] = start + cost.hours
        finish = max(finish, start + cost.hours)
    return finish


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return "CPU"


def to_json(costs: list[RunCost]) -> dict:
    """Run setting -> measured seconds per iteration and per dev evaluation (the Snakefile's time limits)."""
    return {signature(cost.config): {**{name: getattr(cost.timing, name) for name in COST_FIELDS},
                                     "iterations_timed": cost.timing.iterations_timed}
            for cost in costs}


def _hours(hours: float) -> str:
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:.3g}"


def to_markdown(costs: list[RunCost], suite_paths: list[str], devices: list[int], command: str) -> str:
    by_setting: dict[str, list[RunCost]] = {}
    for cost in costs:
        by_setting.setdefault(signature(cost.config), []).append(cost)
    device = costs[0].timing.device if costs else device_name()
    on_gpu = costs[0].timing.on_gpu if costs else torch.cuda.is_available()
    unit, units = ("GPU", "GPUs") if on_gpu else ("process", "processes")
    threads = costs[0].config["threads"] if costs else 1
    measured_here = costs and costs[0].timing.iterations_timed is not None
    lines = [f"# Predicted cost of {', '.join(suite_paths)}", "",
             f"Measured on {device}" + (f" with torch {torch.__version__}" if measured_here else "")
             + ("" if on_gpu else f", {threads} thread(s) per run (CPU-measured)")
             + f"; made by `{command}`. "
             + (f"Each setting was timed over the iterations shown after {WARMUP_ITERATIONS} warm-up iterations"
                if measured_here else "The times per setting were read from an earlier `gpbench cost --json`")
             + "; a run's projection adds one timed dev-cost evaluation every dev_every iterations. Evaluation, "
             "Figure 1 and the tables are not included.", "",
             "| dataset | setting | arch | method | penalty | ms / iteration | timed | runs | iterations "
             "| hours per run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for group in sorted(by_setting.values(), key=lambda g: (g[0].config["dataset"], g[0].path)):
        config, timing = group[0].config, group[0].timing
        penalty = config["penalty"].get("kind", "flex (HyperGAN form)") if isinstance(config["penalty"], dict) else "-"
        setting = group[0].path.rsplit("/seed", 1)[0]
        timed = "—" if timing.iterations_timed is None else timing.iterations_timed
        lines.append(f"| {config['dataset']} | {setting} | {config['arch']} | {config['method']} | {penalty} | "
                     f"{1000 * timing.seconds_per_iteration:.1f} | {timed} | {len(group)} | "
                     f"{config['iterations']:,} | {group[0].hours:.3g} |")
    run_hours = sum(cost.hours for cost in costs)
    device_hours = sum(cost.hours * cost.slots / GPU_SLOTS for cost in costs)
    sharing = ("with the suite's runs_per_gpu sharing (a run that shares a GPU k ways counts 1/k)" if on_gpu
               else "one run per process")
    lines += ["", f"**{len(costs)} runs: {_hours(run_hours)} run-hours; {_hours(device_hours)} {unit}-hours**, "
                  f"{sharing}.", "", f"| {units} | wall-clock (hours) | wall-clock (days) |", "|---|---|---|"]
    for count in devices:
        hours = wall_clock_hours(costs, count)
        lines.append(f"| {count} | {_hours(hours)} | {hours / 24:,.3g} |")
    return "\n".join(lines) + "\n"

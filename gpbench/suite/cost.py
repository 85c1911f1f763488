"""``gpbench cost``: what a suite costs on this machine, before running it.

Every distinct run setting the suite uses (dataset, architecture, method, penalty, sizes; seeds and lengths
aside) is built as the runs build it (the same Trainer, device, amp, compile and cudnn.benchmark) and timed over
a few iterations after a warm-up, once per engine asked for (eager and graph side by side); one dev-cost
evaluation is timed too. Each run's projection is its iterations times the time per iteration of the engine the
run will use, plus its dev evaluations. Runs that share a GPU (the suite's ``runs_per_gpu``) take a share of a
device; with a sharing measurement (K copies of one setting per dataset family running at once, as processes)
each run's time per iteration is slowed by the factor measured for its family at its K, so the projection uses
the measured aggregate throughput. The wall-clock for N devices comes from a longest-first list schedule.
Evaluation, Figure 1 and the tables are not included (on a GPU they are minutes beside days of training).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from gpbench.training.config import resolve
from gpbench.suite.costfile import RunCost, Timing, projected_seconds, rekeyed, signature
from gpbench.data import get_dataset
from gpbench.training.engine import WARMUP_CALLS, choose_engine
from gpbench.errors import ConfigError
from gpbench.suite.pipeline import GPU_SLOTS, gpu_slots, load_suite, plan
from gpbench.training.train import Trainer

# iteration 0 has no generator step; the graph engine warms each step up WARMUP_CALLS times, then captures it;
# cudnn.benchmark and compile settle meanwhile
WARMUP_ITERATIONS = WARMUP_CALLS + 3
SYNTHETIC_IMAGES_PER_BATCH = 400
ENGINES_TIMED = ("eager", "graph")
SYNC_EVERY = 10


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warmed_up_trainer(config: dict, run_dir: Path) -> Trainer:
    """The run's own Trainer, warmed up (and, on the graph engine, its steps captured); nothing is written."""
    trainer = Trainer({**config, "iterations": 10**9, "checkpoint_every": 10**9, "snapshot_every": 10**9,
                       "sample_every": 10**9, "log_every": 10**9, "dev_every": 10**9}, run_dir, progress=False)
    for iteration in range(WARMUP_ITERATIONS):
        trainer.train_iteration(iteration)
    _synchronize(trainer.device)
    return trainer


def _time_iterations(trainer: Trainer, budget_seconds: float, min_iterations: int, max_iterations: int
                     ) -> tuple[float, int]:
    """(seconds per generator iteration, iterations timed). The device is synchronised every
    SYNC_EVERY iterations, where the budget is checked, not after each: the host may queue ahead as in a run."""
    start, timed = time.perf_counter(), 0
    while timed < max_iterations and (timed < min_iterations or time.perf_counter() - start < budget_seconds):
        trainer.train_iteration(WARMUP_ITERATIONS + timed)
        timed += 1
        if timed % SYNC_EVERY == 0:
            _synchronize(trainer.device)
    _synchronize(trainer.device)
    return (time.perf_counter() - start) / timed, timed


def time_config(config: dict, workdir: Path, budget_seconds: float, min_iterations: int,
                max_iterations: int, engines: tuple[str, ...] = ("auto",), progress=print) -> Timing:
    """Seconds per generator iteration of ``config`` on this device under each of ``engines`` (keyed by the engine
    that ran: ``auto`` is eager or graph), and of one dev-cost evaluation. The Timing's own time is that of the
    engine the run would use (``config["engine"]``).
    An engine that fails on this setting is reported (``progress``) and left out; all failing is an error."""
    base = workdir / hashlib.sha1(signature(config).encode()).hexdigest()[:12]
    by_engine, dev_seconds, device, failure = {}, 0.0, torch.device("cpu"), None
    for engine in engines:
        try:
            trainer = warmed_up_trainer({**config, "engine": engine}, base / engine)
        except RuntimeError as error:
            failure = error
            progress(f"engine {engine} failed on this setting: {type(error).__name__}: {str(error).splitlines()[0]}")
            continue
        try:
            by_engine[trainer.engine.name] = _time_iterations(trainer, budget_seconds, min_iterations, max_iterations)
            device = trainer.device
            if trainer.dev is not None and not dev_seconds:
                dev_start = time.perf_counter()
                trainer.dev_statistics()
                _synchronize(trainer.device)
                dev_seconds = time.perf_counter() - dev_start
        finally:
            trainer.lock.release()
    if not by_engine:
        raise failure
    used = choose_engine(config, device)[0]
    used = used if used in by_engine else next(iter(by_engine))
    seconds, timed = by_engine[used]
    return Timing(seconds, timed, dev_seconds, device_name(), used,
                  {engine: value[0] for engine, value in by_engine.items()})


def _sharing_worker(config: dict, run_dir: str, seconds: float, barrier, results) -> None:
    """One of K runs at once: warm up, wait for the others, then count iterations for ``seconds``."""
    torch.set_num_threads(1)
    trainer = warmed_up_trainer(config, Path(run_dir))
    try:
        barrier.wait()
        results.put(_time_iterations(trainer, seconds, 1, 10**9)[0])
    finally:
        trainer.lock.release()


def measure_sharing(config: dict, counts: list[int], workdir: Path, seconds: float,
                    progress=print) -> dict[int, float]:
    """K -> seconds per generator iteration of one run while K copies of ``config`` (each its own process,
    its own seed) train at once on this device, the mean over the K. A K whose processes fail (out of memory,
    say) ends the measurement at the K before it, reported through ``progress``."""
    context = multiprocessing.get_context("spawn")
    measured = {}
    for count in counts:
        barrier, results = context.Barrier(count), context.Queue()
        workers = [context.Process(target=_sharing_worker, args=(
            {**config, "seed": config["seed"] + index}, str(workdir / f"share{count}-{index}"), seconds, barrier,
            results)) for index in range(count)]
        for worker in workers:
            worker.start()
        times = []
        while len(times) < count and not any(worker.exitcode for worker in workers):
            try:
                times.append(results.get(timeout=1))
            except queue.Empty:
                pass
        for worker in workers:
            if len(times) < count:
                worker.terminate()
            worker.join()
        if len(times) < count:
            progress(f"{count} runs at once failed (a process exited with {[w.exitcode for w in workers]}); "
                     "sharing measured up to the K before")
            break
        measured[count] = sum(times) / len(times)
    return measured


def best_runs_per_gpu(measured: dict[int, float]) -> int:
    """The K of highest aggregate throughput (K / seconds per iteration); a larger K only when it gains >= 5 %."""
    best = min(measured)
    for count in sorted(measured):
        if count / measured[count] >= 1.05 * best / measured[best]:
            best = count
    return best


def data_root_for(config: dict, synthetic_root: Path) -> str:
    """The suite's data where it is; a synthetic CIFAR-10 or image folder in its place where it is not (the time
    per iteration does not depend on the pixels)."""
    from gpbench.suite.rehearsal import SYNTHETIC_DATASETS, write_synthetic_once

    info = get_dataset(config["dataset"])
    if info.name not in SYNTHETIC_DATASETS or not info.data_missing(config["data_root"]):
        return config["data_root"]
    write_synthetic_once(info.name, synthetic_root, SYNTHETIC_IMAGES_PER_BATCH)
    return str(synthetic_root)


def sharing_settings(suite: dict) -> dict[str, dict]:
    """Per dataset family of the suite, the config of its most common setting (the one a sharing measurement
    runs K copies of)."""
    by_family: dict[str, dict[str, list[dict]]] = {}
    for run in plan(suite):
        config = resolve(run.config)
        by_family.setdefault(get_dataset(run.dataset).family, {}).setdefault(signature(config), []).append(config)
    return {family: max(settings.values(), key=len)[0] for family, settings in sorted(by_family.items())}


def suite_sharing(suite_paths: list[str], counts: list[int], seconds: float, threads: int | None = None,
                  progress=print) -> dict[str, dict[int, float]]:
    """Family -> K -> seconds per iteration of one of K runs sharing this device (:func:`measure_sharing`)."""
    suite = load_suite(suite_paths)
    measured = {}
    with tempfile.TemporaryDirectory(prefix="gpbench-sharing-") as scratch:
        scratch = Path(scratch)
        for family, config in sharing_settings(suite).items():
            config = {**config, "threads": threads or suite.get("threads", 1)}
            config["data_root"] = data_root_for(config, scratch / "data")
            measured[family] = measure_sharing(config, counts, scratch / family, seconds, progress)
            progress(f"sharing {family}: " + ", ".join(f"K={count} {1000 * value:.1f} ms/iteration per run"
                                                       for count, value in measured[family].items()))
    return measured


def sharing_from_json(content: dict) -> dict[str, dict[int, float]]:
    """What :func:`sharing_to_json` wrote (JSON keys are strings)."""
    return {family: {int(count): entry["seconds_per_iteration"] for count, entry in counts.items()}
            for family, counts in content["families"].items()}


def sharing_to_json(sharing: dict[str, dict[int, float]], settings: dict[str, dict]) -> dict:
    return {"device": device_name(), "torch": torch.__version__,
            "families": {family: {str(count): {"seconds_per_iteration": value, "aggregate_iterations_per_second":
                                               count / value} for count, value in counts.items()}
                         for family, counts in sharing.items()},
            "setting": {family: settings[family]["method"] + " on " + settings[family]["dataset"]
                        for family in sharing if family in settings},
            "best_runs_per_gpu": {family: best_runs_per_gpu(counts) for family, counts in sharing.items()}}


def suite_cost(suite_paths: list[str], budget_seconds: float = 20.0, min_iterations: int = 2,
               max_iterations: int = 300, threads: int | None = None, progress=print,
               measured: dict[str, Timing] | None = None, engines: tuple[str, ...] = ("auto",),
               sharing: dict[str, dict[int, float]] | None = None) -> list[RunCost]:
    """Time each distinct setting of the suite once per engine (or take its time from ``measured``) and project
    every run; ``sharing`` (family -> K -> seconds per iteration) slows a run that shares a GPU K ways by the
    factor measured for its family."""
    suite = load_suite(suite_paths)
    timings: dict[str, Timing] = dict(measured or {})
    costs = []
    with tempfile.TemporaryDirectory(prefix="gpbench-cost-") as scratch:
        scratch = Path(scratch)
        for run, config in run_settings(suite, threads):
            key = signature(config)
            if key not in timings:
                if measured is not None:
                    raise ConfigError(f"the measured times have no entry for {run.path}: run gpbench cost on the "
                                      "suite again without --from-json")
                config["data_root"] = data_root_for(config, scratch / "data")
                timings[key] = time_config(config, scratch / "runs", budget_seconds, min_iterations, max_iterations,
                                           engines, lambda line: progress(f"{run.path}: {line}"))
                progress(f"{run.path}: " + ", ".join(f"{engine} {1000 * value:.2f}" for engine, value
                                                     in timings[key].by_engine.items())
                         + f" ms/iteration ({timings[key].iterations_timed} timed)")
            timing = timings[key]
            # GPU runs share a device as the suite says; a CPU process runs one run at a time
            shared = gpu_slots(run.dataset, suite.get("runs_per_gpu")) if timing.on_gpu else 0
            slots = shared or GPU_SLOTS
            slowdown = _slowdown(sharing, get_dataset(run.dataset).family, GPU_SLOTS // slots) if shared else 1.0
            seconds = projected_seconds(config, timing.seconds_per_iteration * slowdown, timing.dev_seconds)
            costs.append(RunCost(run.path, config, timing, seconds / 3600, slots, slowdown))
    return costs


def run_settings(suite: dict, threads: int | None = None, base: Path = Path(".")):
    """(run, its resolved config at the threads it is timed with) for every run of the suite."""
    for run in plan(suite, base=base):
        yield run, {**resolve(run.config), "threads": threads or suite.get("threads", 1)}


def suite_staleness(measured: dict, suite_paths: list[str], base: Path = Path(".")) -> str | None:
    """None when a cost file (``gpbench cost --json``) holds exactly the settings of today's suite; else the label
    its table must carry: which of today's settings it has not measured and how many it measured that the suite no
    longer has."""
    today: dict[str, str] = {}
    for run, config in run_settings(load_suite([base / path for path in suite_paths]), base=base):
        today.setdefault(signature(config), run.path.rsplit("/seed", 1)[0])
    have = rekeyed(measured)
    missing, gone = sorted(today[key] for key in set(today) - set(have)), len(set(have) - set(today))
    if not missing and not gone:
        return None
    return (f"Stale: {' '.join(suite_paths)} has changed since these times were measured: not measured "
            f"{', '.join(missing) or 'none'}; {gone} measured setting(s) no longer in the suite.")


def _slowdown(sharing: dict[str, dict[int, float]] | None, family: str, count: int) -> float:
    """A run's time per iteration among ``count`` sharing a GPU over its time alone; 1 where not measured."""
    measured = (sharing or {}).get(family, {})
    if count == 1 or count not in measured or 1 not in measured:
        return 1.0
    return measured[count] / measured[1]


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


def _hours(hours: float) -> str:
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:.3g}"


def _engine_columns(costs: list[RunCost]) -> list[str]:
    """The engines timed side by side (none: a file from before engines were timed)."""
    timed = {engine for cost in costs for engine in cost.timing.by_engine}
    return [engine for engine in ENGINES_TIMED if engine in timed] if len(timed) > 1 else []


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1000 * seconds:.2f}"


def source_commit() -> str:
    """The gpbench checkout's commit, marked when its working tree differs from it; "unknown" outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True)
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except OSError:
        return "unknown (no git)"
    if head.returncode:
        return "unknown (not a git checkout)"
    return head.stdout.strip() + (" with uncommitted changes" if dirty else "")


def to_markdown(costs: list[RunCost], suite_paths: list[str], devices: list[int], command: str,
                sharing: dict[str, dict[int, float]] | None = None) -> str:
    by_setting: dict[str, list[RunCost]] = {}
    for cost in costs:
        by_setting.setdefault(signature(cost.config), []).append(cost)
    device = costs[0].timing.device if costs else device_name()
    on_gpu = costs[0].timing.on_gpu if costs else torch.cuda.is_available()
    unit, units = ("GPU", "GPUs") if on_gpu else ("process", "processes")
    threads = costs[0].config["threads"] if costs else 1
    measured_here = costs and costs[0].timing.iterations_timed is not None
    engines = _engine_columns(costs)
    lines = [f"# Predicted cost of {', '.join(suite_paths)}", "",
             f"Measured on {device}" + (f" with torch {torch.__version__}" if measured_here else "")
             + ("" if on_gpu else f", {threads} thread(s) per run (CPU-measured)")
             + f"; made by `{command}`. "
             + (f"Each setting was timed over the iterations shown after {WARMUP_ITERATIONS} warm-up iterations"
                if measured_here else "The times per setting were read from an earlier `gpbench cost --json`")
             + (f", under each engine ({', '.join(engines)}) in the same process; the projection uses the engine the "
                "runs use here (`engine: auto`: graph on a GPU)" if engines else "")
             + "; a run's projection adds one timed dev-cost evaluation every dev_every iterations. Evaluation, "
             "Figure 1 and the tables are not included.", "",
             f"Provenance: made at commit {source_commit()} on {time.strftime('%Y-%m-%d')} from "
             f"{', '.join(map(str, suite_paths))} as of that commit.", "",
             "| dataset | setting | arch | method | penalty | "
             + "".join(f"{engine} ms / iteration | " for engine in engines)
             + ("speed-up | " if engines else "")
             + "ms / iteration (used) | engine | timed | runs | iterations | hours per run |",
             "|---" * (12 + len(engines) + bool(engines) - 1) + "|"]
    for group in sorted(by_setting.values(), key=lambda g: (g[0].config["dataset"], g[0].path)):
        config, timing = group[0].config, group[0].timing
        penalty = config["penalty"].get("kind", "flex (HyperGAN form)") if isinstance(config["penalty"], dict) else "-"
        setting = group[0].path.rsplit("/seed", 1)[0]
        timed = "—" if timing.iterations_timed is None else timing.iterations_timed
        side_by_side = "".join(f"{_ms(timing.by_engine.get(engine))} | " for engine in engines)
        if engines:
            eager, graph = (timing.by_engine.get(engine) for engine in ENGINES_TIMED)
            side_by_side += f"{eager / graph:.1f}x | " if eager and graph else "— | "
        lines.append(f"| {config['dataset']} | {setting} | {config['arch']} | {config['method']} | {penalty} | "
                     f"{side_by_side}{_ms(timing.seconds_per_iteration)} | {timing.engine} | {timed} | {len(group)} | "
                     f"{config['iterations']:,} | {group[0].hours:.3g} |")
    run_hours = sum(cost.hours for cost in costs)
    device_hours = sum(cost.hours * cost.slots / GPU_SLOTS for cost in costs)
    if not on_gpu:
        shared = "one run per process"
    elif sharing:
        shared = ("with the suite's runs_per_gpu sharing, each run slowed by the factor measured for its family at "
                  "its K (table below): a GPU's measured aggregate throughput")
    else:
        shared = ("with the suite's runs_per_gpu sharing, ASSUMED free (a run that shares a GPU k ways counts 1/k "
                  "at its time alone; no sharing measurement given)")
    lines += ["", f"**{len(costs)} runs: {_hours(run_hours)} run-hours; {_hours(device_hours)} {unit}-hours**, "
                  f"{shared}.", "", f"| {units} | wall-clock (hours) | wall-clock (days) |", "|---|---|---|"]
    for count in devices:
        hours = wall_clock_hours(costs, count)
        lines.append(f"| {count} | {_hours(hours)} | {hours / 24:,.3g} |")
    if sharing:
        lines += ["", "## Sharing one GPU", "",
                  "K copies of each family's most common setting trained at once, each its own process; per-run time "
                  "per iteration and the aggregate throughput. The best K (highest aggregate, a larger K only for a "
                  ">= 5 % gain) is the family's runs_per_gpu default.", "",
                  "| family | K | ms / iteration per run | aggregate iterations / s | vs K = 1 |", "|---|---|---|---|---|"]
        for family, counts in sharing.items():
            alone = counts.get(1)
            for count, seconds in sorted(counts.items()):
                gain = f"{(count / seconds) / (1 / alone):.2f}x" if alone else "—"
                best = " (best)" if count == best_runs_per_gpu(counts) else ""
                lines.append(f"| {family} | {count}{best} | {_ms(seconds)} | {count / seconds:,.1f} | {gain} |")
    return "\n".join(lines) + "\n"

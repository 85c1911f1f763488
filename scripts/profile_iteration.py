"""Profile one setting's generator iterations under each engine with torch.profiler (docs/engines.md).

    python3 scripts/profile_iteration.py --out profile.json [--dataset cifar10 --method wgan-gp --iterations 5]

Per engine: wall-clock per iteration (device synchronised), the host's time to issue one, CUDA kernels per
iteration, kernel time per iteration, the GPU busy fraction (kernel time / wall-clock) and the ten costliest
kernels. CIFAR-10 is the synthetic stand-in where the real one is missing (time does not depend on pixels).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from gpbench.training.config import resolve
from gpbench.suite.cost import WARMUP_ITERATIONS, data_root_for, device_name, warmed_up_trainer


def profile_engine(config: dict, run_dir: Path, iterations: int) -> dict:
    trainer = warmed_up_trainer(config, run_dir)
    try:
        first = WARMUP_ITERATIONS
        issue_start = time.perf_counter()            # host time to issue, unprofiled
        for iteration in range(first, first + iterations):
            trainer.train_iteration(iteration)
        issued = time.perf_counter() - issue_start
        torch.cuda.synchronize()
        wall = time.perf_counter() - issue_start
        first += iterations
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiler:
            for iteration in range(first, first + iterations):
                trainer.train_iteration(iteration)
            torch.cuda.synchronize()
        kernels = [event for event in profiler.events() if event.device_type == DeviceType.CUDA]
        kernel_us = sum(event.time_range.elapsed_us() for event in kernels)
        by_name: dict[str, float] = {}
        for event in kernels:
            by_name[event.name] = by_name.get(event.name, 0.0) + event.time_range.elapsed_us()
        top = sorted(by_name.items(), key=lambda item: -item[1])[:10]
        return {"engine": trainer.engine.name, "wall_ms_per_iteration": 1000 * wall / iterations,
                "host_issue_ms_per_iteration": 1000 * issued / iterations,
                "kernels_per_iteration": len(kernels) / iterations,
                "kernel_ms_per_iteration": kernel_us / 1000 / iterations,
                "gpu_busy_fraction": kernel_us / 1e6 / wall,
                "top_kernels_ms_per_iteration": {name[:90]: us / 1000 / iterations for name, us in top}}
    finally:
        trainer.lock.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--method", default="wgan-gp")
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        config = resolve({"method": args.method, "dataset": args.dataset, "device": "cuda", "threads": 1})
        config["data_root"] = data_root_for(config, Path(scratch) / "data")
        report = {"device": device_name(), "torch": torch.__version__, "setting": f"{args.method} on {args.dataset}",
                  "engines": {engine: profile_engine({**config, "engine": engine}, Path(scratch) / engine,
                                                     args.iterations) for engine in ("eager", "graph")}}
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

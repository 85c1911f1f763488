"""How far a re-run lands from the committed numbers: each re-run seed's final metrics against the same seed in a
suite's committed ``tables/<group>_runs.csv``, and against the spread of the committed seeds (docs/replication.md,
"Reproducibility"). Pure functions on rows and the page; the re-runs are :mod:`gpbench.suite.reproduce`'s."""

from __future__ import annotations

import csv
import math
import os
import platform
from pathlib import Path

import numpy as np

from gpbench.errors import ConfigError
from gpbench.metrics import RESULT_LABELS
from gpbench.report.tables import PER_RUN_SUFFIX

PER_RUN_TABLES = ("replication", "flex")
NOT_METRICS = ("dataset", "method", "seed", "status", "iteration", "counted", "elapsed_seconds", "samples",
               "sample_spread", "total_modes")


def read_committed(tables_dir: Path) -> dict[tuple[str, str, int], dict]:
    """(dataset, label, seed) -> the committed per-run row, from every ``<group>_runs.csv`` in ``tables_dir``."""
    rows = {}
    for group in PER_RUN_TABLES:
        path = tables_dir / f"{group}{PER_RUN_SUFFIX}"
        if path.is_file():
            with open(path, newline="") as handle:
                reader = csv.DictReader(handle)
                for row in reader:
                    try:
                        if None in row.values() or None in row:         # a row cut short, or one with extra cells
                            raise ValueError
                        rows[(row["dataset"], row["method"], int(row["seed"]))] = row
                    except (KeyError, TypeError, ValueError):
                        raise ConfigError(f"{path}: line {reader.line_num} is damaged (cells missing or extra, or "
                                          f"no whole seed); restore it with git checkout -- {path}") from None
    if not rows:
        raise ConfigError(f"{tables_dir}: no committed per-run table ({', '.join(g + PER_RUN_SUFFIX for g in PER_RUN_TABLES)}); "
                          "run the suite first")
    return rows


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def verdict(committed: float, rerun: float, seeds: list[float]) -> str:
    """identical / inside the committed seeds' range / outside it (with the distance in seed standard deviations)."""
    if rerun == committed:
        return "identical"
    low, high = min(seeds), max(seeds)
    if low <= rerun <= high:
        return "inside the seeds' range"
    spread = float(np.std(seeds, ddof=1)) if len(seeds) > 1 else 0.0
    distance = f"{abs(rerun - float(np.mean(seeds))) / spread:.1f} std from their mean" if spread else "no spread"
    return f"OUTSIDE the seeds' range ({distance})"


def check_committed(committed: dict[tuple[str, str, int], dict], keys) -> None:
    """Every (dataset, label, seed) to re-run has a committed row, before anything is trained."""
    for dataset, label, seed in keys:
        if (dataset, label, seed) not in committed:
            raise ConfigError(f"no committed row for {dataset}/{label}/seed{seed}; the committed tables hold "
                              f"{', '.join(sorted({f'{d}/{m}' for d, m, _ in committed}))}")


def compare(committed: dict[tuple[str, str, int], dict], reruns: dict[tuple[str, str, int], dict]) -> list[dict]:
    """One row per re-run seed and metric: the committed value of that seed, the re-run's, their difference, the
    committed seeds' mean +- std and range (counted seeds only), and the verdict."""
    check_committed(committed, reruns)
    rows = []
    for key, metrics in reruns.items():
        dataset, label, seed = key
        same = [row for (d, m, _), row in committed.items() if (d, m) == (dataset, label) and row["counted"] == "yes"]
        for metric, rerun in metrics.items():
            before = _number(committed[key].get(metric))
            seeds = [v for v in (_number(row.get(metric)) for row in same) if v is not None]
            if metric in NOT_METRICS or before is None or rerun is None or not seeds:
                continue
            rows.append({"run": f"{dataset}/{label}/seed{seed}", "metric": metric, "committed": before,
                         "rerun": rerun, "difference": rerun - before, "seed_mean": float(np.mean(seeds)),
                         "seed_std": float(np.std(seeds, ddof=1)) if len(seeds) > 1 else 0.0,
                         "seed_range": (min(seeds), max(seeds)), "seeds": len(seeds),
                         "verdict": verdict(before, rerun, seeds)})
    return rows


def machine() -> str:
    """The CPU model (from /proc/cpuinfo where there is one), the core count and the Python platform."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, {platform.platform()}"


def page_header(suite_file: str, results: Path, threads: int, today: str, torch_version: str) -> list[str]:
    """What was compared with what, on which machine: the page's opening lines."""
    return [f"Suite {suite_file}; committed numbers: {results}/tables/*{PER_RUN_SUFFIX}.",
            f"Re-run {today} on {machine()}; torch {torch_version}, {threads} thread(s) per run; each run trained "
            "from scratch and evaluated as the suite evaluates it (final checkpoint, the suite's sample counts).",
            "Bitwise equality holds on one machine and thread count (tests/test_train.py); across CPU types "
            "floating-point rounding differs and a GAN's trajectory with it: the question is whether a re-run "
            "stays inside the spread of the committed seeds."]


def to_markdown(rows: list[dict], header: list[str]) -> str:
    """The comparison as a page: what was compared on which machine, a table, and a count of the verdicts."""
    lines = ["# Reproducibility: committed results vs a re-run", "", *header, "",
             "| run | metric | committed | re-run | difference | committed seeds: mean ± std [range] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        low, high = row["seed_range"]
        lines.append(f"| {row['run']} | {RESULT_LABELS.get(row['metric'], row['metric'])} | {row['committed']:.4g} | "
                     f"{row['rerun']:.4g} | {row['difference']:+.3g} | {row['seed_mean']:.4g} ± {row['seed_std']:.2g} "
                     f"[{low:.4g}, {high:.4g}] ({row['seeds']} seeds) | {row['verdict']} |")
    counts = {}
    for row in rows:
        kind = row["verdict"].split(" (")[0]
        counts[kind] = counts.get(kind, 0) + 1
    lines += ["", "Verdicts: " + "; ".join(f"{kind}: {count}" for kind, count in sorted(counts.items())) + "."]
    return "\n".join(lines) + "\n"

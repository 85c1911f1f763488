"""Read finished runs (through :class:`gpbench.rundir.RunDir`) and group them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpbench.data import get_dataset
from gpbench.rundir import EVAL, RunDir


@dataclass
class RunResult:
    """One run directory, read once."""

    path: Path
    config: dict
    status: dict
    log: list[dict]
    final: dict | None
    curve: list[dict]

    @classmethod
    def read(cls, path: str | Path) -> "RunResult":
        path = Path(path)
        if path.name == EVAL:
            path = path.parent
        run = RunDir(path)
        return cls(path=path, config=run.require_config(), status=run.read_status(), log=run.read_metrics(),
                   final=run.read_eval(), curve=run.read_eval_curve())

    def series(self, key: str, source: str = "log", x_key: str = "iteration") -> tuple[np.ndarray, np.ndarray]:
        """(x, values) of ``key`` where both are finite numbers, from metrics.jsonl ("log") or eval.jsonl
        ("curve"); x is the generator iteration or, e.g., "elapsed_seconds"."""
        rows = self.log if source == "log" else self.curve
        pairs = [(row[x_key], row[key]) for row in rows
                 if isinstance(row.get(key), (int, float)) and math.isfinite(row[key])
                 and isinstance(row.get(x_key), (int, float))]
        iterations, values = zip(*pairs) if pairs else ((), ())
        return np.asarray(iterations, dtype=float), np.asarray(values, dtype=float)

    @property
    def dataset(self) -> str:
        return self.config["dataset"]

    @property
    def label(self) -> str:
        """The method (and variant) part of the run path: runs/<suite>/<dataset>/<label>/seed<k>."""
        return self.path.parent.name

    @property
    def diverged(self) -> bool:
        return self.status.get("status") == "diverged"

    def metric(self, name: str) -> float | None:
        if not self.final:
            return None
        value = self.final["metrics"].get(name)
        if name == "high_quality" and value is not None:
            return 100.0 * value
        return value

    def seconds_per_1k_iterations(self) -> float | None:
        if not self.log:
            return None
        last = self.log[-1]
        return 1000.0 * last["seconds"] / (last["iteration"] + 1)

    def final_wasserstein_estimate(self) -> float | None:
        values = [line["wasserstein_estimate"] for line in self.log if line.get("wasserstein_estimate") is not None]
        return values[-1] if values else None


def table_metrics(dataset: str) -> list[str]:
    """The columns a dataset's tables show: its default evaluation metrics, modes split out."""
    metrics = get_dataset(dataset).default_metrics
    return [column for metric in metrics for column in (["modes", "high_quality"] if metric == "modes" else [metric])]


def summarise(values: list[float | None]) -> tuple[float, float, int] | None:
    """(mean, sample std (0 for one value), count) of the values that exist and are finite."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return None
    return float(np.mean(present)), float(np.std(present, ddof=1)) if len(present) > 1 else 0.0, len(present)


def group_runs(results: list[RunResult]) -> dict[tuple[str, str], list[RunResult]]:
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in sorted(results, key=lambda r: (r.dataset, r.label, r.config["seed"])):
        groups.setdefault((result.dataset, result.label), []).append(result)
    return groups

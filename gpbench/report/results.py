"""Read finished runs (config.yaml, status.json, metrics.jsonl, eval.json, eval.jsonl) and group them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from gpbench.config import eval_protocol

METRIC_LABELS = {"modes": "modes", "high_quality": "high-quality %", "emd": "EMD", "swd": "sliced W",
                 "fid": "FID", "is": "IS", "kid": "KID", "fid_lenet": "FID (LeNet)", "is_lenet": "IS (LeNet)"}
LOWER_IS_BETTER = {"emd", "swd", "fid", "kid", "fid_lenet"}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


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
        if path.name == "eval.json":
            path = path.parent
        status_file = path / "status.json"
        return cls(path=path, config=yaml.safe_load((path / "config.yaml").read_text()),
                   status=json.loads(status_file.read_text()) if status_file.is_file() else {},
                   log=_jsonl(path / "metrics.jsonl"),
                   final=json.loads((path / "eval.json").read_text()) if (path / "eval.json").is_file() else None,
                   curve=_jsonl(path / "eval.jsonl"))

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
    metrics = eval_protocol(dataset)["metrics"]
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

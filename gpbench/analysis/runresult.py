"""One run directory read once (through :class:`gpbench.training.rundir.RunDir`) for the analyses and the report: its
config, status, logged statistics, final evaluation and evaluation curve, what its penalty is, and whether its
numbers count; and runs grouped into table rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from gpbench.training.config import run_penalty
from gpbench.metrics import displayed
from gpbench.metrics.collapse import is_collapsed
from gpbench.penalties import Penalty
from gpbench.training.rundir import EVAL, RunDir, label_in_run_path


REHEARSAL_MARKS = ("SYNTHETIC DATA", "RANDOM INCEPTION")


def marks_of(results) -> str:
    """" - SYNTHETIC DATA, RANDOM INCEPTION: rehearsal numbers, not results" when any run carries a mark."""
    results = list(results)
    found = [mark for mark in REHEARSAL_MARKS if any(mark in result.marks for result in results)]
    return f" - {', '.join(found)}: rehearsal numbers, not results" if found else ""


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

    @cached_property
    def penalty(self) -> Penalty:
        """The run's penalty as built from its config (what it constrains, its target norm)."""
        return run_penalty(self.config)

    @property
    def label(self) -> str:
        """The method (and variant) part of a pipeline run path, <dataset>/<label>/seed<k>, whose seeds share a
        row; a run directory laid out otherwise is a row of its own, named by the directory."""
        return label_in_run_path(self.path, self.dataset, self.config["seed"]) or self.path.name

    @property
    def marks(self) -> list[str]:
        """What makes this run's numbers a rehearsal rather than a result: SYNTHETIC DATA, RANDOM INCEPTION."""
        protocol = (self.final or {}).get("protocol", {})
        found = []
        if REHEARSAL_MARKS[0] in (self.status.get("data") or "") + str((self.final or {}).get("data") or ""):
            found.append(REHEARSAL_MARKS[0])
        if REHEARSAL_MARKS[1] in str(protocol.get("inception_weights", "")):
            found.append(REHEARSAL_MARKS[1])
        return found

    @property
    def diverged(self) -> bool:
        return self.status.get("status") == "diverged"

    @property
    def sample_spread(self) -> float | None:
        """The final samples' spread relative to the real data's (:mod:`gpbench.metrics.collapse`)."""
        return ((self.final or {}).get("metrics") or {}).get("sample_spread")

    @property
    def collapsed(self) -> bool:
        """Trained to the end but every final sample the same: a failed run, whatever its FID says."""
        return not self.diverged and is_collapsed(self.sample_spread)

    @property
    def unfinished(self) -> bool:
        """Stopped before its last iteration without diverging: interrupted, failed, or still running (status.json
        says which). Its checkpoint is not the run's result."""
        return not self.diverged and self.status.get("status") != "completed"

    @property
    def failed(self) -> bool:
        return self.diverged or self.collapsed or self.unfinished

    @property
    def counted(self) -> bool:
        """Whether its numbers count in the tables, the plots' final-evaluation stars and the claims: trained to
        the end without diverging or collapsing, and evaluated."""
        return not self.failed and bool(self.final)

    @property
    def why_not_counted(self) -> str | None:
        if self.counted:
            return None
        if self.diverged:
            return "diverged"
        if self.unfinished:
            return f"unfinished ({self.status.get('status', 'no status')} at iteration {self.status.get('iteration')})"
        return "collapsed" if self.collapsed else "not evaluated"

    def metric(self, name: str) -> float | None:
        if not self.final:
            return None
        return displayed(name, self.final["metrics"].get(name))

    @property
    def engine(self) -> str:
        """How its steps were launched (docs/engines.md): "eager", "graph" (captured as CUDA graphs or not); runs
        from before engines existed ran eagerly, and the names those before one name per engine wrote are read
        as today's ("cuda-graph", "static": graph)."""
        engine = self.status.get("engine", "eager")
        return "eager" if engine == "eager" else "graph"

    @property
    def training_seconds(self) -> float | None:
        """Wall-clock seconds of training, as last logged (None before the first log line)."""
        return self.log[-1]["seconds"] if self.log else None

    def seconds_per_1k_iterations(self) -> float | None:
        if not self.log:
            return None
        return 1000.0 * self.training_seconds / (self.log[-1]["iteration"] + 1)

    def final_wasserstein_estimate(self) -> float | None:
        values = [line["wasserstein_estimate"] for line in self.log if line.get("wasserstein_estimate") is not None]
        return values[-1] if values else None


def group_runs(results: list[RunResult]) -> dict[tuple[str, str], list[RunResult]]:
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in sorted(results, key=lambda r: (r.dataset, r.label, r.config["seed"])):
        groups.setdefault((result.dataset, result.label), []).append(result)
    return groups

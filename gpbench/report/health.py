"""Health of runs: the per-run plot of what `gpbench diagnose` reads (diagnosis.png), and the health table of a
suite (one row per run: its worst verdict, which check, the evidence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpbench.plotting import plt
from gpbench.analysis.diagnose import FLAGGED, VERDICTS, RunLogs
from gpbench.report.plots import save_figure
from gpbench.training.rundir import DIAGNOSIS_PLOT, RunDir
from gpbench.analysis.runresult import RunResult


def write_diagnosis(path: str | Path, report: dict) -> Path:
    """diagnosis.json and diagnosis.png in the run directory."""
    run = RunDir(path)
    run.write_diagnosis(report)
    return plot_health(RunLogs.read(path), run.file(DIAGNOSIS_PLOT), report)


def plot_health(run: RunLogs, path: Path, report: dict) -> Path:
    """Wasserstein estimate (training batches, dev training sample, held-out), gradient norm at the penalty
    points against its target, and the penalty's share of the critic loss, over generator iterations."""
    figure, (estimate, norm, share) = plt.subplots(1, 3, figsize=(14, 3.6), dpi=100)
    for key, label, style in (("wasserstein_estimate", "training batches", dict(color="tab:blue", alpha=0.5)),
                              ("dev_train_wasserstein_estimate", "training sample (dev step)", dict(color="tab:blue")),
                              ("dev_wasserstein_estimate", "held-out (dev step)", dict(color="tab:green"))):
        x, y = run.series(key)
        if len(x):
            estimate.plot(x, y, label=label, **style)
    estimate.set_title("Wasserstein estimate (-critic loss w/o penalty)", fontsize=9)
    estimate.legend(fontsize=7)
    x, y = run.series("gradient_norm")
    target = run.penalty.target_norm
    if len(x):
        norm.plot(x, y, color="tab:orange", label="mean norm at penalty points")
    if target:
        norm.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g}")
    norm.set_title("gradient norm at the penalty points", fontsize=9)
    if len(x) or target:
        norm.legend(fontsize=7)
    xp, penalty = run.series("penalty")
    xd, d_loss = run.series("d_loss")
    if len(xp) and len(xp) == len(xd):
        share.plot(xp, 100 * penalty / (np.abs(d_loss) + penalty + 1e-12), color="tab:red")
    share.set_title("penalty share of the critic loss (%)", fontsize=9)
    for panel in (estimate, norm, share):
        panel.set_xlabel("generator iterations")
        panel.grid(alpha=0.3)
    flagged = [f"{c['name']}: {c['verdict']}" for c in report["checks"] if c["verdict"] in FLAGGED]
    return save_figure(figure, path, f"{run.path} - {report['verdict'].upper()}"
                       + (f" ({'; '.join(flagged)})" if flagged else ""), fontsize=9)


def health_cell(runs: list[RunResult]) -> str:
    """One table cell for a group of seeds: "ok", or the worst verdict, its check and the seeds it hit."""
    reports = [(run.config["seed"], RunDir(run.path).read_diagnosis()) for run in runs]
    flagged = [(seed, report) for seed, report in reports if report and report["verdict"] in FLAGGED]
    if not any(report for _, report in reports):
        return "—"
    if not flagged:
        return "ok"
    worst = max((report["verdict"] for _, report in flagged), key=VERDICTS.index)    # not by spelling: "warn" > "fail"
    return f"{worst}: " + ", ".join(f"{report['worst_check']} (seed {seed})" for seed, report in flagged)

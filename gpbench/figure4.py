"""Gulrajani et al. 2017, Figure 4b: on a random 1,000-digit subset of MNIST the critic overfits. The runs log
the dev critic cost every ``dev_every`` iterations (gpbench.train); this module draws the training and held-out
curves, one panel per method, and states the claims with the gap at the end in numbers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gpbench.report.results import RunResult, group_runs  # noqa: E402

GAP_STANDARD_ERRORS = 3.0        # a gap counts as separated when it exceeds 3 standard errors of itself
END_POINTS = 3                   # the gap "at the end": the mean over the last 3 dev evaluations


def dev_curves(run: RunResult) -> dict[str, np.ndarray]:
    """Iterations, the training-sample and held-out Wasserstein estimates, and the gap's standard error."""
    lines = [line for line in run.log if line.get("dev_wasserstein_estimate") is not None
             and line.get("dev_train_wasserstein_estimate") is not None]
    return {"iteration": np.array([line["iteration"] for line in lines], dtype=float),
            "training": np.array([line["dev_train_wasserstein_estimate"] for line in lines], dtype=float),
            "held_out": np.array([line["dev_wasserstein_estimate"] for line in lines], dtype=float),
            "standard_error": np.array([line.get("dev_gap_standard_error") or np.nan for line in lines], dtype=float)}


def gap_summary(runs: list[RunResult]) -> dict | None:
    """The train-minus-held-out gap at the start and at the end (mean of the last END_POINTS evaluations),
    averaged over seeds, with the end gap's standard error."""
    curves = [curve for curve in map(dev_curves, runs) if len(curve["iteration"]) >= END_POINTS + 1]
    if not curves:
        return None
    gaps = [curve["training"] - curve["held_out"] for curve in curves]
    end = float(np.mean([gap[-END_POINTS:].mean() for gap in gaps]))
    error = float(np.sqrt(np.nanmean([(curve["standard_error"][-END_POINTS:] ** 2).mean() / END_POINTS
                                      for curve in curves]) / len(curves)))
    return {"start": float(np.mean([gap[0] for gap in gaps])), "end": end, "standard_error": error,
            "training_end": float(np.mean([c["training"][-END_POINTS:].mean() for c in curves])),
            "held_out_end": float(np.mean([c["held_out"][-END_POINTS:].mean() for c in curves])),
            "iterations": int(curves[0]["iteration"][-1]), "seeds": len(curves), "subset": runs[0].config["train_subset"]}


def plot_figure4(results: list[RunResult], path: Path) -> Path:
    """One panel per method: the critic's Wasserstein estimate (its negative loss) on the training subset and on
    held-out data against generator iterations, every seed drawn."""
    groups = list(group_runs(results).items())
    figure, axes = plt.subplots(1, max(len(groups), 1), figsize=(5.5 * max(len(groups), 1), 3.8), dpi=100,
                                squeeze=False)
    for panel, ((_, label), runs) in zip(axes[0], groups):
        for index, run in enumerate(runs):
            curve = dev_curves(run)
            first = index == 0
            panel.plot(curve["iteration"], curve["training"], color="tab:blue",
                       label="training subset" if first else None)
            panel.plot(curve["iteration"], curve["held_out"], color="tab:green",
                       label="held-out digits" if first else None)
        summary = gap_summary(runs)
        gap = f"; gap at the end {summary['end']:.3g} ± {summary['standard_error']:.2g}" if summary else ""
        panel.set_title(f"{label} (n={len(runs)}){gap}", fontsize=9)
        panel.set_xlabel("generator iterations")
        panel.set_ylabel("Wasserstein estimate (negative critic loss)")
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
    subset = results[0].config["train_subset"] if results else None
    figure.suptitle(f"Critic on a {subset:,}-image training subset: training vs held-out estimate "
                    "(cf. Gulrajani et al. Fig. 4b)" if subset else "Training vs held-out critic estimate", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def figure4_claims(results: list[RunResult]) -> list[dict]:
    """Per method: the training-set estimate separates from the held-out one (the gap at the end, in numbers)."""
    rows = []
    for (dataset, label), runs in group_runs(results).items():
        summary = gap_summary(runs)
        if summary is None:
            continue
        held = summary["end"] > GAP_STANDARD_ERRORS * summary["standard_error"] and summary["end"] > summary["start"]
        rows.append({"claim": f"{label} on {summary['subset']:,} {dataset} images: the training-set critic estimate "
                              "separates from the held-out one (Fig. 4b)",
                     "measured": f"gap (training - held-out) {summary['start']:.3g} at the start, {summary['end']:.3g} "
                                 f"± {summary['standard_error']:.2g} at iteration {summary['iterations']:,} (training "
                                 f"{summary['training_end']:.3g}, held-out {summary['held_out_end']:.3g}; "
                                 f"{summary['seeds']} seed(s))",
                     "reproduced": "yes" if held else "NO"})
    return rows

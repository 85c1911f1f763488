"""The critic's overfitting gap (Gulrajani et al. 2017, Figure 4b) for one run: the Wasserstein estimate on a
fixed sample of the training set minus the one on held-out data, both on the same generated samples, as the run
logged them at its dev evaluations. ``gpbench diagnose`` warns on it; Figure 4 plots it and judges the claim."""

from __future__ import annotations

import math

import numpy as np

from gpbench.analysis.runresult import RunResult

GAP_STANDARD_ERRORS = 3.0        # a gap counts as separated when it exceeds 3 of its standard errors
GAP_END_POINTS = 3               # the gap "at the end": the mean over the last 3 dev evaluations


def dev_curves(run: RunResult) -> dict[str, np.ndarray]:
    """Iterations, the training-sample and held-out Wasserstein estimates, and the gap's standard error, at every
    dev evaluation that logged both estimates."""
    lines = [line for line in run.log if line.get("dev_wasserstein_estimate") is not None
             and line.get("dev_train_wasserstein_estimate") is not None]
    return {"iteration": np.array([line["iteration"] for line in lines], dtype=float),
            "training": np.array([line["dev_train_wasserstein_estimate"] for line in lines], dtype=float),
            "held_out": np.array([line["dev_wasserstein_estimate"] for line in lines], dtype=float),
            "standard_error": np.array([line.get("dev_gap_standard_error") or np.nan for line in lines], dtype=float)}


def dev_gap(curves: dict[str, np.ndarray]) -> dict | None:
    """The gap at the first dev evaluation and over the last GAP_END_POINTS (their mean, the estimates' means, the
    window's iterations), with the end gap's standard error from the logged per-evaluation errors (inf when they
    are missing); None with fewer than GAP_END_POINTS + 1 evaluations."""
    iterations, training, held_out = curves["iteration"], curves["training"], curves["held_out"]
    standard_error = curves["standard_error"]
    if len(iterations) < GAP_END_POINTS + 1:
        return None
    gap, tail = training - held_out, slice(-GAP_END_POINTS, None)
    error = (float(np.sqrt((standard_error[tail] ** 2).mean() / GAP_END_POINTS))
             if np.isfinite(standard_error[tail]).all() else math.inf)
    return {"start": float(gap[0]), "end": float(gap[tail].mean()), "standard_error": error,
            "training_end": float(training[tail].mean()), "held_out_end": float(held_out[tail].mean()),
            "first_end_iteration": int(iterations[-GAP_END_POINTS]), "iterations": int(iterations[-1])}


def gap_grew(gap: dict) -> bool:
    """The gap at the end is above its start and GAP_STANDARD_ERRORS of its standard errors above 0."""
    return gap["end"] > gap["start"] and gap["end"] > GAP_STANDARD_ERRORS * gap["standard_error"]

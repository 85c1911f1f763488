"""Gulrajani et al. 2017, Figure 4: (b) on a random 1,000-digit subset of MNIST the critic overfits; (a) the
critic's negative loss tracks sample quality. The runs log the dev critic cost every ``dev_every`` iterations
(gpbench.training.train) and are evaluated at their snapshots (gpbench.analysis.evaluate); this module draws the
training and held-out curves and their gap, one column per method, and states both claims in numbers."""

from __future__ import annotations

import functools
import itertools
import logging
import math
import textwrap
from pathlib import Path

import numpy as np

from scipy.stats import spearmanr
from scipy.stats import t as t_distribution

from gpbench.plotting import plt
from gpbench.data import get_dataset
from gpbench.fileio import save_figure_atomic
from gpbench.metrics import LOWER_IS_BETTER, RESULT_LABELS
from gpbench.analysis.overfitting import GAP_END_POINTS, dev_curves, dev_gap, gap_grew
from gpbench.analysis.runresult import RunResult, group_runs
from gpbench.analysis.statistics import SIGNIFICANCE, compare, summarise

log = logging.getLogger(__name__)

# Fig. 4a: Spearman's rho between the critic's negative loss and sample quality over a run's snapshots "tracks"
# when its one-sided p (the exact null distribution over all orderings up to EXACT_SNAPSHOTS snapshots, Student's t
# approximation beyond) is below SIGNIFICANCE in every seed, and the seeds' rhos exceed those of the control, the
# GAN discriminator's loss (the paper's contrast), by a Welch test at the same level.
TRACKS_MIN_SNAPSHOTS = 5
TITLE_WIDTH = 60             # characters per line of a panel title (a column is 5.5 inches wide)
EXACT_SNAPSHOTS = 9


def gap_summary(runs: list[RunResult]) -> dict | None:
    """Fig. 4b over seeds: each run's gap at the start and at the end (overfitting.dev_gap), their means, the end gap's
    spread over seeds and its 95 % t interval (with one seed: +-1.96 of its own standard error)."""
    gaps = [gap for gap in (dev_gap(dev_curves(run)) for run in runs) if gap is not None]
    if not gaps:
        return None
    ends = np.array([gap["end"] for gap in gaps])
    mean = float(ends.mean())
    if len(gaps) > 1:
        spread = float(ends.std(ddof=1))
        half = float(t_distribution.ppf(0.975, len(gaps) - 1)) * spread / np.sqrt(len(gaps))
    else:
        spread, half = math.nan, 1.96 * gaps[0]["standard_error"]
    return {"start": float(np.mean([gap["start"] for gap in gaps])), "end": mean, "end_per_seed": ends.tolist(),
            "seed_std": spread, "interval": (mean - half, mean + half),
            "standard_error": float(np.sqrt(np.mean([gap["standard_error"] ** 2 for gap in gaps]) / len(gaps))),
            "training_end": float(np.mean([gap["training_end"] for gap in gaps])),
            "held_out_end": float(np.mean([gap["held_out_end"] for gap in gaps])),
            "iterations": gaps[0]["iterations"], "first_end_iteration": gaps[0]["first_end_iteration"],
            "seeds": len(gaps), "subset": runs[0].config["train_subset"]}


def _gap_text(summary: dict) -> str:
    spread = f" ± {summary['seed_std']:.2g} (std over seeds)" if summary["seeds"] > 1 else ""
    low, high = summary["interval"]
    return f"{summary['end']:.3g}{spread}, 95 % interval [{low:.3g}, {high:.3g}]"

def estimate_quality_correlation(run: RunResult, metric: str) -> tuple[float, int] | None:
    """Fig. 4a for one run: Spearman's rho, over its evaluated snapshots, between the critic's negative loss without
    penalty (-d_loss: the Wasserstein estimate under the WGAN game, the negative discriminator loss under the GAN's;
    the logged training values since the previous snapshot, averaged) and the sample metric, signed so that
    positive means "a lower estimate, better samples"; with the snapshot count."""
    pairs, previous = [], -1
    for point in sorted(run.curve, key=lambda line: line["iteration"]):
        value = point.get(metric)
        window = [-line["d_loss"] for line in run.log
                  if previous < line["iteration"] < point["iteration"] and line.get("d_loss") is not None]
        previous = point["iteration"]
        if value is not None and window:
            pairs.append((float(np.mean(window)), float(value)))
    if len(pairs) < TRACKS_MIN_SNAPSHOTS:
        return None
    estimate, quality = np.array(pairs).T
    if np.ptp(estimate) == 0 or np.ptp(quality) == 0:
        return 0.0, len(pairs)
    rho = float(spearmanr(estimate, quality)[0])
    return (rho if metric in LOWER_IS_BETTER else -rho), len(pairs)


@functools.lru_cache(maxsize=None)
def _exact_spearman_null(snapshots: int) -> np.ndarray:
    """Spearman's rho of every ordering of ``snapshots`` ranks against the identity: its exact null distribution."""
    ranks = np.array(list(itertools.permutations(range(snapshots))), dtype=np.int64)
    squared = ((ranks - np.arange(snapshots)) ** 2).sum(axis=1)
    return 1 - 6 * squared / (snapshots * (snapshots**2 - 1))


def spearman_p(rho: float, snapshots: int) -> float:
    """One-sided p of Spearman's ``rho`` over ``snapshots`` untied pairs: P(rho' >= rho) under independence."""
    if snapshots <= EXACT_SNAPSHOTS:
        return float(np.mean(_exact_spearman_null(snapshots) >= rho - 1e-12))
    if rho >= 1:
        return 0.0
    return float(t_distribution.sf(rho * math.sqrt((snapshots - 2) / (1 - rho**2)), snapshots - 2))


def is_control(run: RunResult) -> bool:
    """A Figure 4 run of the GAN game: its discriminator loss is Fig. 4a's negative control."""
    return run.config.get("game", "wgan") != "wgan"


def finished(results: list[RunResult]) -> list[RunResult]:
    """The runs that trained to the end (or diverged); an unfinished one is left out of Figure 4, with a warning."""
    for run in results:
        if run.unfinished:
            log.warning("%s is left out of Figure 4: %s", run.path, run.why_not_counted)
    return [run for run in results if not run.unfinished]


def plot_figure4(results: list[RunResult], path: Path) -> Path:
    """One column per method (but the Fig. 4a control): on top the critic's Wasserstein estimate (its negative loss) on the training subset
    and on held-out data against generator iterations, every seed drawn; below the gap (training - held-out),
    its mean over seeds with a band of +-1 standard deviation across seeds and the seeds themselves."""
    groups = [(key, runs) for key, runs in group_runs(finished(results)).items() if not is_control(runs[0])]
    columns = max(len(groups), 1)
    figure, axes = plt.subplots(2, columns, figsize=(5.5 * columns, 7.0), dpi=100, squeeze=False,
                                gridspec_kw={"height_ratios": [3, 2]})
    for column, ((_, label), runs) in enumerate(groups):
        panel, gap_panel = axes[0][column], axes[1][column]
        curves = [dev_curves(run) for run in runs]
        for index, curve in enumerate(curves):
            first = index == 0
            panel.plot(curve["iteration"], curve["training"], color="tab:blue",
                       label="training subset" if first else None)
            panel.plot(curve["iteration"], curve["held_out"], color="tab:green",
                       label="held-out digits" if first else None)
        summary = gap_summary(runs)
        gap = f"gap over the last {GAP_END_POINTS} evaluations {_gap_text(summary)}" if summary else ""
        panel.set_title("\n".join([f"{label} (n={len(runs)})", *textwrap.wrap(gap, TITLE_WIDTH)]), fontsize=9)
        panel.set_ylabel("Wasserstein estimate (negative critic loss)")
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
        _plot_gap(gap_panel, curves)
    subset = results[0].config["train_subset"] if results else None
    figure.suptitle(f"Critic on a {subset:,}-image training subset: training vs held-out estimate "
                    "(cf. Gulrajani et al. Fig. 4b)" if subset else "Training vs held-out critic estimate", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure_atomic(figure, path)
    plt.close(figure)
    return path


def _plot_gap(panel, curves: list[dict]) -> None:
    """The gap of each seed (thin), and on the iterations all seeds share, their mean +- 1 std (band)."""
    for curve in curves:
        panel.plot(curve["iteration"], curve["training"] - curve["held_out"], color="tab:red", alpha=0.35, lw=0.8)
    shared = min((len(curve["iteration"]) for curve in curves), default=0)
    if shared:
        gaps = np.array([(curve["training"] - curve["held_out"])[:shared] for curve in curves])
        x = curves[0]["iteration"][:shared]
        mean, spread = gaps.mean(axis=0), gaps.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(shared)
        panel.plot(x, mean, color="tab:red", label=f"gap, mean of {len(curves)} seed(s)")
        panel.fill_between(x, mean - spread, mean + spread, color="tab:red", alpha=0.2, label="+-1 std over seeds")
        panel.legend(fontsize=7)
    panel.axhline(0.0, color="black", lw=0.8)
    panel.set_xlabel("generator iterations")
    panel.set_ylabel("gap: training - held-out")
    panel.grid(alpha=0.3)


def figure4_claims(results: list[RunResult]) -> list[dict]:
    """Per method: (b) the training-set estimate separates from the held-out one (the gap over the last
    evaluations, in numbers); (a) the estimate tracks sample quality over the snapshots (Spearman's rho)."""
    rows = []
    groups = group_runs(finished(results))
    controls = {dataset: runs for (dataset, _), runs in groups.items() if runs and is_control(runs[0])}
    for (dataset, label), runs in groups.items():
        summary = None if is_control(runs[0]) else gap_summary(runs)     # the control serves Fig. 4a only
        if summary is not None:
            # several seeds: the 95 % interval over seeds above 0; one seed: 3 of its own standard errors
            held = (summary["end"] > summary["start"] and summary["interval"][0] > 0 if summary["seeds"] > 1
                    else gap_grew(summary))
            rows.append({"claim": f"{label} on {summary['subset']:,} {dataset} images: the training-set critic estimate "
                                  "separates from the held-out one (Fig. 4b)",
                         "measured": f"gap (training - held-out) {summary['start']:.3g} at the start, "
                                     f"{_gap_text(summary)} over the last {GAP_END_POINTS} dev evaluations "
                                     f"(iterations {summary['first_end_iteration']:,}-{summary['iterations']:,}; "
                                     f"training {summary['training_end']:.3g}, held-out {summary['held_out_end']:.3g}; "
                                     f"{summary['seeds']} seed(s): "
                                     + ", ".join(f"{end:.3g}" for end in summary["end_per_seed"]) + ")",
                         "reproduced": "yes" if held else "NO"})
        rows += _tracking_claim(dataset, label, runs, controls.get(dataset, []))
    return rows


def _correlations(runs: list[RunResult], metric: str) -> list[tuple[int, float, int, float]]:
    """(seed, rho, snapshots, one-sided p) of each run with enough evaluated snapshots."""
    measured = [(run.config["seed"], estimate_quality_correlation(run, metric)) for run in runs]
    return [(seed, rho, count, spearman_p(rho, count)) for seed, value in measured if value is not None
            for rho, count in [value]]


def _tracking_claim(dataset: str, label: str, runs: list[RunResult], control: list[RunResult]) -> list[dict]:
    """Fig. 4a: the WGAN critic's negative loss tracks sample quality (significant in every seed, and above the
    GAN discriminator's); for the control itself, that its loss does not."""
    metric = get_dataset(dataset).curve_metric
    measured = _correlations(runs, metric)
    if not measured:
        return []
    rhos = [rho for _, rho, _, _ in measured]
    significant = all(p < SIGNIFICANCE for *_, p in measured)
    per_seed = ", ".join(f"seed {seed}: {rho:+.2f} over {count} snapshots (p = {p:.2g})"
                         for seed, rho, count, p in measured)
    text = (f"Spearman rho between the negative critic loss and {RESULT_LABELS[metric]} over the evaluated "
            "snapshots, signed so that + means a lower loss estimate with better samples, one-sided p against "
            f"independence: mean {np.mean(rhos):+.2f} ({per_seed})")
    if is_control(runs[0]):
        return [{"claim": f"{label} on {dataset}: the GAN discriminator's negative loss does not track sample "
                          "quality (Fig. 4a, the control)",
                 "measured": text, "reproduced": "NO" if significant else "yes"}]
    others = [rho for _, rho, _, _ in _correlations(control, metric)]
    if len(others) < 2 or len(rhos) < 2:
        against, separated = ("; no control with 2 or more seeds in this suite (the GAN discriminator's loss): not "
                              "separated from the correlation any two quantities trending with training share"), False
    else:
        comparison = compare(summarise(rhos), summarise(others))
        separated = comparison.difference > 0 and comparison.p < SIGNIFICANCE
        against = (f"; against the control {control[0].label} (mean rho {np.mean(others):+.2f}): {comparison.text()}"
                   + ("" if separated else ", not separated from the control"))
    return [{"claim": f"{label} on {dataset}: the critic's negative loss tracks sample quality (Fig. 4a)",
             "measured": text + f"; significant at {SIGNIFICANCE:g} in every seed: {'yes' if significant else 'no'}"
                         + against,
             "reproduced": "yes" if significant and separated else "NO"}]

"""Plots from finished runs: the paper's Figure 3 layout (metric vs generator iterations and vs wall-clock,
one line per method), training curves (Wasserstein estimate, critic loss, gradient norm), sample pictures."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gpbench.metrics import LOWER_IS_BETTER, RESULT_LABELS  # noqa: E402
from gpbench.rundir import RunDir  # noqa: E402
from gpbench.report.results import RunResult, group_runs, table_metrics  # noqa: E402

TRAINING_CURVES = (("wasserstein_estimate", "Wasserstein estimate (-critic loss w/o penalty)"),
                   ("d_loss", "critic loss (without penalty)"), ("gradient_norm", "mean gradient norm at penalty points"))


def _mean_curve(runs: list[RunResult], rows, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over seeds at the x values all seeds share."""
    per_run = [{row[x_key]: row[y_key] for row in rows(run) if row.get(y_key) is not None and row.get(x_key) is not None}
               for run in runs]
    shared = sorted(set.intersection(*(set(curve) for curve in per_run))) if per_run else []
    values = np.array([[curve[x] for x in shared] for curve in per_run], dtype=float)
    if not shared:
        return np.array([]), np.array([]), np.array([])
    return np.array(shared, dtype=float), values.mean(axis=0), np.stack([values.min(axis=0), values.max(axis=0)])


def _plot_lines(axes, groups, rows, x_key, y_key, scale_x=1.0):
    for (_, label), runs in groups:
        x, mean, spread = _mean_curve(runs, rows, x_key, y_key)
        if not len(x):
            continue
        line, = axes.plot(x * scale_x, mean, label=f"{label} (n={len(runs)})")
        if len(runs) > 1:
            axes.fill_between(x * scale_x, spread[0], spread[1], color=line.get_color(), alpha=0.15)


def _by_dataset(results: list[RunResult]):
    """(dataset, [((dataset, label), runs), ...]) for each dataset, runs grouped by method."""
    groups = group_runs(results)
    for dataset in sorted({r.dataset for r in results}):
        yield dataset, [(key, runs) for key, runs in groups.items() if key[0] == dataset]


def save_figure(figure, path: Path, title: str, fontsize: int = 10) -> Path:
    figure.suptitle(title, fontsize=fontsize)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def figure3(dataset: str, groups, out_dir: Path, prefix: str = "") -> Path:
    """The dataset's first metric vs generator iterations (left) and vs wall-clock seconds (right)."""
    metric = table_metrics(dataset)[0] if table_metrics(dataset)[0] != "modes" else "high_quality"
    figure, (by_iteration, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    rows = lambda run: [{**line, metric: (100 * line[metric] if metric == "high_quality" else line[metric])}
                        for line in run.curve if metric in line]
    _plot_lines(by_iteration, groups, rows, "iteration", metric)
    _plot_lines(by_time, groups, rows, "elapsed_seconds", metric)
    direction = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    for axes, xlabel in ((by_iteration, "generator iterations"), (by_time, "wall-clock seconds")):
        axes.set_xlabel(xlabel)
        axes.set_ylabel(f"{RESULT_LABELS[metric]} ({direction})")
        axes.grid(alpha=0.3)
    by_iteration.legend(fontsize=7)
    return save_figure(figure, out_dir / f"{prefix}figure3_{dataset}.png",
                 f"{dataset}: {RESULT_LABELS[metric]} during training (cf. Gulrajani et al. Fig. 3)")


def training_curves(dataset: str, groups, out_dir: Path, prefix: str = "") -> Path:
    figure, axes = plt.subplots(1, len(TRAINING_CURVES), figsize=(13, 3.4), dpi=100)
    for panel, (key, title) in zip(axes, TRAINING_CURVES):
        _plot_lines(panel, groups, lambda run: run.log, "iteration", key)
        panel.set_title(title, fontsize=9)
        panel.set_xlabel("generator iterations")
        panel.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return save_figure(figure, out_dir / f"{prefix}curves_{dataset}.png",
                 f"{dataset}: training curves (mean over seeds, band = min-max)")


def sample_pictures(results: list[RunResult], out_dir: Path) -> list[Path]:
    """Each run's last sample picture, copied as samples/<dataset>_<method>_seed<k>.png."""
    written = []
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    for result in results:
        pictures = RunDir(result.path).sample_pictures()
        if pictures:
            target = out_dir / "samples" / f"{result.dataset}_{result.label}_seed{result.config['seed']}.png"
            shutil.copyfile(pictures[-1], target)
            written.append(target)
    return written


def write_plots(run_dirs: list[str], out_dir: str | Path, prefix: str = "") -> list[Path]:
    """``<prefix>figure3_<dataset>.png``, ``<prefix>curves_<dataset>.png`` and ``samples/*.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [RunResult.read(path) for path in run_dirs]
    written = []
    for dataset, groups in _by_dataset(results):
        written += [figure3(dataset, groups, out_dir, prefix), training_curves(dataset, groups, out_dir, prefix)]
    return written + sample_pictures(results, out_dir)

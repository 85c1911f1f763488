"""Plots from finished runs: the paper's Figure 3 layout (metric vs generator iterations and vs wall-clock,
one line per method), training curves (Wasserstein estimate, critic loss, gradient norm), sample pictures."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from gpbench.plotting import plt
from gpbench.metrics import LOWER_IS_BETTER, RESULT_LABELS
from gpbench.data import get_dataset
from gpbench.errors import RunDirError
from gpbench.fileio import save_figure_atomic
from gpbench.training.rundir import RunDir
from gpbench.analysis.runresult import RunResult, group_runs, marks_of

TRAINING_CURVES = (("wasserstein_estimate", "Wasserstein estimate (-critic loss w/o penalty)"),
                   ("d_loss", "critic loss (without penalty)"), ("gradient_norm", "mean gradient norm at penalty points"))
# One colour per method in every panel of every figure; variants (the penalty sweep, the ResNet) take the
# palette's colours in sorted order.
METHOD_COLORS = {"wgan-gp": "tab:blue", "wgan-clip": "tab:orange", "ns-gan": "tab:green", "mm-gan": "tab:red",
                 "wgan-gp-rmsprop": "tab:purple", "lsgan": "tab:brown",
                 "r3gan": "tab:pink"}
# tab20 pairs a dark and a light shade; the first seven pairs are the methods' hues, so variants start after them
PALETTE = list(plt.get_cmap("tab20").colors[14:]) + list(plt.get_cmap("tab20b").colors)
MARKERS_BELOW = 15            # curves with fewer points get markers, so that short ones stay visible
# Variants (a sweep has a dozen) also differ by marker and dash, so that neighbouring colours stay apart
VARIANT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
VARIANT_DASHES = ("-", "--", "-.", ":")
MARKERS_ON_A_LINE = 8
GRID_POINTS = 100
SEPARATE_SCALE = ("wasserstein_estimate", "d_loss")     # panels where clipped critics get their own axis


def method_colors(labels) -> dict[str, object]:
    """A colour for each label: the four methods always the same, every other label the next free one."""
    labels = list(labels)
    others = sorted(label for label in set(labels) if label not in METHOD_COLORS)
    return {**{label: METHOD_COLORS[label] for label in labels if label in METHOD_COLORS},
            **{label: PALETTE[index % len(PALETTE)] for index, label in enumerate(others)}}


def variant_style(label: str, colors: dict) -> dict:
    """Line style of a label: a method's plain line, a variant's own marker and dash beside its colour."""
    if label in METHOD_COLORS:
        return {}
    index = sorted(label for label in colors if label not in METHOD_COLORS).index(label)
    return {"marker": VARIANT_MARKERS[index % len(VARIANT_MARKERS)],
            "linestyle": VARIANT_DASHES[(index // len(VARIANT_MARKERS) + index) % len(VARIANT_DASHES)]}


def _runs_curves(runs: list[RunResult], key: str, x_key: str, source: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each run's (x, y) of ``key`` (the high-quality fraction in percent), runs without it left out."""
    scale = 100.0 if key == "high_quality" else 1.0
    curves = [run.series(key, source, x_key) for run in runs]
    return [(x, scale * y) for x, y in curves if len(x)]


def mean_curve(curves: list[tuple[np.ndarray, np.ndarray]], common_grid: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean, min and max over seeds: at the x values every seed has (generator iterations), or, with
    ``common_grid``, interpolated on a grid over the x range all seeds cover (wall-clock seconds differ)."""
    if not curves:
        return None
    if common_grid:
        low, high = max(x.min() for x, _ in curves), min(x.max() for x, _ in curves)
        if len(curves) == 1:
            grid = curves[0][0]
        elif low >= high:
            return None
        else:
            grid = np.linspace(low, high, GRID_POINTS)
        values = np.array([np.interp(grid, x, y) for x, y in curves])
    else:
        shared = sorted(set.intersection(*(set(x.tolist()) for x, _ in curves)))
        if not shared:
            return None
        grid = np.asarray(shared, dtype=float)
        values = np.array([[dict(zip(x.tolist(), y))[point] for point in shared] for x, y in curves])
    return grid, values.mean(axis=0), np.stack([values.min(axis=0), values.max(axis=0)])


def _plot_lines(axes, groups, colors, key, x_key="iteration", source="log", common_grid=False, suffix="") -> int:
    """One line (mean over seeds, band min-max) per method; returns how many were drawn."""
    drawn = 0
    for (_, label), runs in groups:
        curve = mean_curve(_runs_curves(runs, key, x_key, source), common_grid)
        if curve is None:
            continue
        x, mean, spread = curve
        style = {"marker": "o" if len(x) < MARKERS_BELOW else None, **variant_style(label, colors)}
        axes.plot(x, mean, color=colors[label], label=f"{label} (n={len(runs)}){suffix}", markersize=4,
                  markevery=max(1, len(x) // MARKERS_ON_A_LINE), **style)
        if len(runs) > 1:
            axes.fill_between(x, spread[0], spread[1], color=colors[label], alpha=0.15)
        drawn += 1
    return drawn


def _plot_final_evaluations(axes, groups, colors, metric: str) -> None:
    """The tables' numbers on the curve panel: each method's final evaluation (mean +- std over the seeds that
    count in the tables, a star at the last iteration). Curve points score fewer samples, so the curve's end and
    the star may differ."""
    scale = 100.0 if metric == "high_quality" else 1.0
    counts = {"final": set(), "curve": set()}
    for (_, label), runs in groups:
        finals = [(run.final["iteration"], scale * run.final["metrics"][metric]) for run in runs
                  if run.counted and run.final.get("metrics", {}).get(metric) is not None]
        if not finals:
            continue
        counts["final"].add(runs[0].final.get("protocol", {}).get("samples"))
        counts["curve"] |= {point.get("samples") for run in runs for point in run.curve}
        iterations, values = np.array(finals).T
        axes.errorbar(iterations.mean(), values.mean(), yerr=values.std(ddof=1) if len(values) > 1 else None,
                      color=colors[label], marker="*", markersize=10, markeredgecolor="black", capsize=3, zorder=5)
    if counts["final"]:
        sizes = {key: ", ".join(f"{n:,}" for n in sorted(v for v in values if v)) or "?" for key, values in counts.items()}
        axes.plot([], [], linestyle="none", marker="*", markersize=10, color="white", markeredgecolor="black",
                  label=f"final evaluation ({sizes['final']} samples; the tables), curve points {sizes['curve']}")


def _empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", fontsize=8, color="gray")


def _by_dataset(results: list[RunResult]):
    """(dataset, [((dataset, label), runs), ...]) for each dataset, runs grouped by method."""
    groups = group_runs(results)
    for dataset in sorted({r.dataset for r in results}):
        yield dataset, [(key, runs) for key, runs in groups.items() if key[0] == dataset]


def save_figure(figure, path: Path, title: str, fontsize: int = 10) -> Path:
    figure.suptitle(title, fontsize=fontsize)
    figure.tight_layout()
    save_figure_atomic(figure, path)
    plt.close(figure)
    return path


def figure3(dataset: str, groups, out_dir: Path, prefix: str = "") -> Path:
    """The dataset's first metric vs generator iterations (left) and vs wall-clock seconds (right)."""
    metric = get_dataset(dataset).curve_metric
    colors = method_colors(label for (_, label), _ in groups)
    figure, (by_iteration, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    drawn = _plot_lines(by_iteration, groups, colors, metric, source="curve")
    _plot_final_evaluations(by_iteration, groups, colors, metric)
    _plot_lines(by_time, groups, colors, metric, x_key="elapsed_seconds", source="curve", common_grid=True)
    direction = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    for axes, xlabel in ((by_iteration, "generator iterations"), (by_time, "wall-clock seconds (mean over seeds)")):
        axes.set_xlabel(xlabel)
        axes.set_ylabel(f"{RESULT_LABELS[metric]} ({direction})")
        axes.grid(alpha=0.3)
    if drawn:
        by_iteration.legend(fontsize=7)
    else:
        _empty(by_iteration, "no evaluation curve (gpbench eval)")
    return save_figure(figure, out_dir / f"{prefix}figure3_{dataset}.png",
                       f"{dataset}: {RESULT_LABELS[metric]} during training (cf. Gulrajani et al. Fig. 3)"
                       + marks_of(run for _, runs in groups for run in runs))


SMALL_MULTIPLES_ABOVE = 8     # more labels than this (a sweep): one panel per variant family instead of one panel
LEGEND_COLUMNS = 4            # a sweep's training-curve legend, in a row of its own
LAMBDA_SUFFIX = re.compile(r"-lambda([0-9.e+-]+)$")
CONTROL = "none"              # the sweep's no-penalty control (label <base method>-none), grey in every panel


def variant_family(label: str) -> tuple[str, str | None]:
    """(family, lambda) of a sweep label: ``flex1-inputs-lambda10`` -> ("flex1-inputs", "10")."""
    match = LAMBDA_SUFFIX.search(label)
    return (label[:match.start()], match.group(1)) if match else (label, None)


def sweep_figure3(dataset: str, groups, out_dir: Path, prefix: str = "") -> Path:
    """Figure 3 for a sweep: one small panel per variant family (its lambdas as lines from light to dark, the
    no-penalty control in grey in every panel), the dataset's primary metric (the one the flex table ranks and
    compares on) against generator iterations, shared y axis."""
    metric = get_dataset(dataset).primary_metric
    families: dict[str, list] = {}
    for group in groups:
        families.setdefault(variant_family(group[0][1])[0], []).append(group)
    control = [group for family in [f for f in families if f == CONTROL or f.endswith(f"-{CONTROL}")]
               for group in families.pop(family)]
    columns = 4
    rows = -(-len(families) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), dpi=100, sharey=True,
                                squeeze=False)
    for panel, (family, members) in zip(axes.flat, sorted(families.items())):
        members = sorted(members, key=lambda group: float(variant_family(group[0][1])[1] or 0))
        shades = plt.get_cmap("viridis")(np.linspace(0.85, 0.1, len(members)))
        colors = {group[0][1]: shade for group, shade in zip(members, shades)}
        colors.update({group[0][1]: "0.55" for group in control})
        _plot_lines(panel, control + members, colors, metric, source="curve")
        _plot_final_evaluations(panel, control + members, colors, metric)
        panel.set_title(family, fontsize=9)
        panel.grid(alpha=0.3)
        panel.legend(fontsize=6)
    for panel in axes.flat[len(families):]:
        panel.axis("off")
    direction = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    for panel in axes[:, 0]:
        panel.set_ylabel(f"{RESULT_LABELS[metric]} ({direction})", fontsize=8)
    for panel in axes[-1]:
        panel.set_xlabel("generator iterations", fontsize=8)
    return save_figure(figure, out_dir / f"{prefix}figure3_{dataset}.png",
                       f"{dataset}: {RESULT_LABELS[metric]} during training, one panel per variant (lambdas light to "
                       f"dark; grey: {CONTROL}, no penalty); stars: final evaluation"
                       + marks_of(run for _, runs in groups for run in runs))


def training_curves(dataset: str, groups, out_dir: Path, prefix: str = "") -> Path:
    """Wasserstein estimate, critic loss and gradient norm over generator iterations; clipped critics, whose
    estimate and loss are orders of magnitude smaller, get their own (right) axis in those panels."""
    colors = method_colors(label for (_, label), _ in groups)
    clipped = [group for group in groups if group[1][0].config["clip"]]
    unclipped = [group for group in groups if not group[1][0].config["clip"]]
    sweep = len(groups) > SMALL_MULTIPLES_ABOVE       # a sweep's legend gets a row of its own below the panels
    legend_rows = -(-len(groups) // LEGEND_COLUMNS) if sweep else 0
    figure = plt.figure(figsize=(13, 3.4 + 0.2 * legend_rows), dpi=100)
    grid = figure.add_gridspec(2 if sweep else 1, len(TRAINING_CURVES),
                               height_ratios=[3.4, 0.2 * legend_rows] if sweep else None)
    axes = [figure.add_subplot(grid[0, column]) for column in range(len(TRAINING_CURVES))]
    for panel, (key, title) in zip(axes, TRAINING_CURVES):
        if key in SEPARATE_SCALE and clipped and unclipped:
            _plot_lines(panel, unclipped, colors, key)
            right = panel.twinx()
            _plot_lines(right, clipped, colors, key, suffix=" (right axis)")
            right.set_ylabel("clipped critics", fontsize=8)
            lines = panel.get_lines() + right.get_lines()
            if not sweep:
                panel.legend(lines, [line.get_label() for line in lines], fontsize=7)
        elif _plot_lines(panel, groups, colors, key) == 0:
            _empty(panel, "not logged by these runs" if key != "gradient_norm" else "no gradient penalty")
        panel.set_title(title, fontsize=9)
        panel.set_xlabel("generator iterations")
        panel.grid(alpha=0.3)
    if sweep:
        legend = figure.add_subplot(grid[1, :])
        legend.axis("off")
        handles = {line.get_label(): line for panel in figure.axes for line in panel.get_lines()
                   if not line.get_label().startswith("_")}
        legend.legend(handles.values(), handles.keys(), loc="upper center", ncol=LEGEND_COLUMNS, fontsize=7,
                      frameon=False)
    elif not (clipped and unclipped):
        axes[0].legend(fontsize=7)
    return save_figure(figure, out_dir / f"{prefix}curves_{dataset}.png",
                       f"{dataset}: training curves (mean over seeds, band = min-max)"
                       + marks_of(run for _, runs in groups for run in runs))


def last_sample_picture(run_dir: str | Path, target: Path) -> Path:
    """Copy a run's last sample picture to ``target``."""
    pictures = RunDir(run_dir).sample_pictures()
    if not pictures:
        raise RunDirError(f"{run_dir} has no sample pictures yet (samples/iter_*.png); train it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pictures[-1], target)
    return target


def write_plots(run_dirs: list[str], out_dir: str | Path, prefix: str = "") -> list[Path]:
    """``<prefix>figure3_<dataset>.png`` and ``<prefix>curves_<dataset>.png`` for each dataset of the runs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [RunResult.read(path) for path in run_dirs]
    written = []
    for dataset, groups in _by_dataset(results):
        progress = sweep_figure3 if len(groups) > SMALL_MULTIPLES_ABOVE else figure3
        written += [progress(dataset, groups, out_dir, prefix), training_curves(dataset, groups, out_dir, prefix)]
    return written


def architecture_grid(run_dirs: list[str], out: str | Path) -> Path:
    """Figure 2's layout: one row per architecture, one column per method, each cell the last samples of the
    lowest seed; a cell whose runs do not count (diverged, collapsed, unfinished) says so in red."""
    results = [RunResult.read(path) for path in run_dirs]
    rows = list(dict.fromkeys(run.config["figure2_row"] for run in results))
    methods = list(dict.fromkeys(run.config["method"] for run in results))
    figure, axes = plt.subplots(len(rows), len(methods), figsize=(2.2 * len(methods), 2.2 * len(rows) + 0.6),
                                squeeze=False)
    for i, row in enumerate(rows):
        for j, method in enumerate(methods):
            axis = axes[i][j]
            axis.set_xticks([])
            axis.set_yticks([])
            runs = sorted((run for run in results if run.config["figure2_row"] == row
                           and run.config["method"] == method), key=lambda run: run.config["seed"])
            pictures = RunDir(runs[0].path).sample_pictures() if runs else []
            if pictures:
                axis.imshow(plt.imread(pictures[-1]))
            failed = [run.why_not_counted for run in runs if not run.counted]
            if failed or not pictures:
                axis.text(0.5, 0.5, (failed[0] if failed else "no samples").split(" (")[0], color="red",
                          ha="center", va="center", transform=axis.transAxes, fontsize=9,
                          bbox={"facecolor": "white", "alpha": 0.8})
            if i == 0:
                axis.set_title(method, fontsize=10)
            if j == 0:
                axis.set_ylabel(row, fontsize=10)
    dataset = results[0].dataset if results else ""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(figure, out, f"Figure 2 layout on {dataset}{marks_of(results)}: last samples of the lowest seed")

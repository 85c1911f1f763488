"""Plots: every panel holds data, wall-clock panels too when seeds ran at different speeds; one colour per
method in every panel; clipped critics on their own axis."""

from pathlib import Path

import matplotlib.colors
import pytest

from gpbench.report import plots
from gpbench.analysis.runresult import RunResult


def run(label, seed, seconds_per_iteration, clip=None):
    """A run with a training log and an evaluation curve; its wall-clock depends on its speed."""
    scale = 1e-5 if clip else 1.0
    log = [{"iteration": i, "wasserstein_estimate": scale * (1.0 - i / 100), "d_loss": -scale * (1.0 - i / 100),
            "gradient_norm": None if clip else 1.0 + seed / 10} for i in range(0, 100, 10)]
    curve = [{"iteration": i, "elapsed_seconds": seconds_per_iteration * i, "modes": 8,
              "high_quality": 0.1 + i / 1000 + seed / 100, "emd": 1.0 - i / 200 + seed / 100}
             for i in range(10, 101, 10)]
    config = {"dataset": "8gaussians", "method": label, "seed": seed, "clip": clip}
    return RunResult(Path(f"runs/t/8gaussians/{label}/seed{seed}"), config, {"status": "completed"}, log, None, curve)


@pytest.fixture
def figures(monkeypatch):
    drawn = []
    original = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda figure, *args, **kwargs: drawn.append(figure) or
                        original(figure, *args, **kwargs))
    return drawn


def groups():
    # the seeds of each method ran at different speeds: no wall-clock value is shared between seeds
    runs = [run("wgan-gp", 0, 0.013), run("wgan-gp", 1, 0.021), run("wgan-clip", 0, 0.007, clip=0.01),
            run("wgan-clip", 1, 0.011, clip=0.01)]
    return list(plots.group_runs(runs).items())


def lines_by_label(figure):
    found = {}
    for axes in figure.axes:
        for line in axes.get_lines():
            label = line.get_label().split(" (n=")[0]
            found.setdefault(label, []).append(matplotlib.colors.to_rgb(line.get_color()))
    return found


def test_figure3_and_curves_hold_data_in_every_panel(tmp_path, figures):
    plots.figure3("8gaussians", groups(), tmp_path)
    plots.training_curves("8gaussians", groups(), tmp_path)
    figure3, curves = figures
    by_iteration, by_time = figure3.axes
    assert len(by_iteration.get_lines()) == len(by_time.get_lines()) == 2
    for line in by_time.get_lines():                          # the wall-clock panel is populated
        assert len(line.get_xdata()) == plots.GRID_POINTS
    for axes in curves.axes:
        assert axes.get_lines(), axes.get_title()


def test_a_method_has_one_colour_in_every_panel_of_every_figure(tmp_path, figures):
    plots.figure3("8gaussians", groups(), tmp_path)
    plots.training_curves("8gaussians", groups(), tmp_path)
    for figure in figures:
        for label, colors in lines_by_label(figure).items():
            assert len(set(colors)) == 1, label
            assert colors[0] == matplotlib.colors.to_rgb(plots.METHOD_COLORS[label])


def test_the_clipped_critics_estimate_has_its_own_axis(tmp_path, figures):
    plots.training_curves("8gaussians", groups(), tmp_path)
    estimate_axes = [axes for axes in figures[0].axes if any("wgan-clip" in line.get_label() for line in axes.get_lines())]
    clipped = next(axes for axes in estimate_axes if axes.get_ylabel() == "clipped critics")
    low, high = clipped.get_ylim()
    assert high - low < 1e-3                                # scaled to the clipped estimate, not to GP's


def test_variant_colours_are_stable_and_distinct_from_the_methods():
    colors = plots.method_colors(["wgan-gp", "wgan-gp-r1", "wgan-gp-wgan-lp", "wgan-clip"])
    assert colors["wgan-gp"] == "tab:blue" and colors["wgan-clip"] == "tab:orange"
    assert colors["wgan-gp-r1"] != colors["wgan-gp-wgan-lp"]
    assert plots.method_colors(["wgan-gp-wgan-lp", "wgan-gp-r1"]) == {
        key: value for key, value in colors.items() if key.startswith("wgan-gp-")}


def test_seeds_share_a_row_only_in_the_pipeline_layout():
    """<dataset>/<method>/seed<k> groups seeds; runs trained elsewhere are each a row named by their folder."""
    laid_out = [run("wgan-gp", 0, 0.01), run("wgan-gp", 1, 0.01)]
    own = [RunResult(Path(f"my-runs/{name}"), {"dataset": "8gaussians", "method": "wgan-gp", "seed": 0},
                     {"status": "completed"}, [], None, []) for name in ("lambda1", "lambda10")]
    grouped = plots.group_runs(laid_out + own)
    assert {key: len(runs) for key, runs in grouped.items()} == {
        ("8gaussians", "wgan-gp"): 2, ("8gaussians", "lambda1"): 1, ("8gaussians", "lambda10"): 1}


def test_a_dozen_sweep_variants_differ_by_marker_and_dash_not_only_by_colour():
    labels = ["wgan-gp", "wgan-clip"] + [f"wgan-gp-variant{index:02d}" for index in range(12)]
    colors = plots.method_colors(labels)
    styles = [tuple(plots.variant_style(label, colors).items()) for label in labels if label.startswith("wgan-gp-")]
    assert len(set(styles)) == 12                                      # every variant its own marker and dash
    assert plots.variant_style("wgan-gp", colors) == {} == plots.variant_style("wgan-clip", colors)


def test_the_curve_panel_shows_the_tables_final_evaluation_beside_the_curve(tmp_path, figures):
    """Curve points score 500 samples, the tables 2,500: the final evaluation is drawn as its own marker (mean
    over seeds at the last iteration, error bar = std), and the legend says both sample counts."""
    runs = [run("wgan-gp", seed, 0.01) for seed in (0, 1)]
    for seed, result in enumerate(runs):
        result.curve = [{**point, "samples": 500} for point in result.curve]
        result.final = {"iteration": 100, "metrics": {"modes": 8, "high_quality": 0.3 + 0.1 * seed},
                        "protocol": {"samples": 2500}}
    plots.figure3("8gaussians", list(plots.group_runs(runs).items()), tmp_path)
    by_iteration = figures[0].axes[0]
    stars = [line for line in by_iteration.get_lines() if line.get_marker() == "*" and len(line.get_xdata())]
    assert [(x, y) for line in stars for x, y in zip(line.get_xdata(), line.get_ydata())] == \
        [(100, pytest.approx(35.0))]                          # high-quality %, mean of 30 and 40
    labels = [text.get_text() for text in by_iteration.get_legend().get_texts()]
    assert "final evaluation (2,500 samples; the tables), curve points 500" in labels


def test_a_sweep_with_a_lambda_grid_is_drawn_as_small_multiples_with_the_control_in_each(tmp_path, figures):
    labels = ["wgan-gp-none"] + [f"wgan-gp-{family}-lambda{value}" for family in ("flex1-inputs", "wgan-gp", "r1")
                                 for value in ("0.1", "1", "10")]
    runs = [run(label, 0, 0.01) for label in labels]
    for result in runs:
        result.config["dataset"] = "8gaussians"
    plots.write_plots([], tmp_path)                                        # nothing to draw: nothing written
    path = plots.sweep_figure3("8gaussians", list(plots.group_runs(runs).items()), tmp_path, "flex_")
    assert path.name == "flex_figure3_8gaussians.png" and path.stat().st_size > 5000
    panels = [axes for axes in figures[0].axes if axes.get_lines()]
    assert [axes.get_title() for axes in panels] == ["wgan-gp-flex1-inputs", "wgan-gp-r1", "wgan-gp-wgan-gp"]
    for axes in panels:                     # the control and the family's three lambdas, smallest lambda first
        names = [line.get_label().split(" (n=")[0] for line in axes.get_lines() if not line.get_label().startswith("_")]
        assert names[0] == "wgan-gp-none" and [name.rsplit("lambda", 1)[1] for name in names[1:]] == ["0.1", "1", "10"]
    assert plots.variant_family("wgan-gp-flex0-10-params-lambda0.1") == ("wgan-gp-flex0-10-params", "0.1")
    assert panels[0].get_ylabel() == "EMD (lower is better)"          # the flex table's primary metric


def test_a_sweeps_training_curves_put_the_legend_in_a_row_of_its_own(tmp_path, figures):
    """25 labels in a panel's legend squeezed the panels into the bottom of the figure: the legend goes below."""
    labels = ["wgan-gp-none"] + [f"wgan-gp-v{index}" for index in range(12)]
    plots.training_curves("8gaussians", list(plots.group_runs([run(label, 0, 0.01) for label in labels]).items()),
                          tmp_path, "flex_")
    panels, legend = figures[0].axes[:3], figures[0].axes[-1]
    assert not any(panel.get_legend() for panel in panels) and not legend.axison
    assert len(legend.get_legend().get_texts()) == len(labels)
    assert min(panel.get_position().height for panel in panels) > 0.5       # the panels keep most of the figure


def test_a_run_path_label_needs_the_whole_dataset_folder_name():
    from gpbench.training.rundir import label_in_run_path, run_path

    assert run_path("8gaussians", "wgan-gp", 0) == "8gaussians/wgan-gp/seed0"
    assert label_in_run_path(Path("runs/q/8gaussians/wgan-gp/seed0"), "8gaussians", 0) == "wgan-gp"
    assert label_in_run_path(Path("runs/q/my8gaussians/wgan-gp/seed0"), "8gaussians", 0) is None
    assert label_in_run_path(Path("runs/q/8gaussians/wgan-gp/seed1"), "8gaussians", 0) is None

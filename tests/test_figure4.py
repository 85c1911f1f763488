"""Figure 4b: the overfitting gap from the dev-cost log lines, its claim verdict, and the plot."""

from pathlib import Path

import matplotlib
import pytest

from gpbench.figure4 import figure4_claims, gap_summary, plot_figure4
from gpbench.report.results import RunResult


def run(method, gaps, seed=0, standard_error=0.01):
    """A run whose logged training estimate exceeds the held-out one by ``gaps`` at dev iterations 0, 100, ..."""
    log = [{"iteration": 100 * i, "d_loss": 0.0, "dev_wasserstein_estimate": 1.0 - 0.1 * i,
            "dev_train_wasserstein_estimate": 1.0 - 0.1 * i + gap, "dev_gap_standard_error": standard_error}
           for i, gap in enumerate(gaps)]
    config = {"dataset": "mnist", "method": method, "seed": seed, "train_subset": 1000}
    return RunResult(Path(f"runs/q/mnist/{method}-subset1000/seed{seed}"), config, {"status": "completed"}, log, None, [])


def test_the_gap_at_the_end_averages_the_last_evaluations_over_seeds():
    summary = gap_summary([run("wgan-gp", [0.0, 0.1, 0.2, 0.3, 0.4]), run("wgan-gp", [0.0, 0.1, 0.2, 0.3, 0.6], 1)])
    assert summary["start"] == pytest.approx(0.0) and summary["end"] == pytest.approx(((0.2 + 0.3 + 0.4) / 3 + (0.2 + 0.3 + 0.6) / 3) / 2)
    assert summary["standard_error"] == pytest.approx(0.01 / 3 ** 0.5 / 2 ** 0.5)
    assert summary["iterations"] == 400 and summary["seeds"] == 2


def test_claims_report_a_separating_gap_as_yes_and_a_flat_one_as_no():
    rows = figure4_claims([run("wgan-gp", [0.0, 0.1, 0.2, 0.3, 0.4]), run("wgan-clip", [0.0, 0.01, -0.01, 0.0, 0.01])])
    verdicts = {row["claim"].split(" on ")[0]: row for row in rows}
    assert verdicts["wgan-gp-subset1000"]["reproduced"] == "yes"
    assert verdicts["wgan-clip-subset1000"]["reproduced"] == "NO"
    assert "0.3 ± 0.0058 at iteration 400" in verdicts["wgan-gp-subset1000"]["measured"]


def test_the_plot_has_one_panel_per_method_with_training_and_held_out_curves(tmp_path):
    figures = []
    original = matplotlib.figure.Figure.savefig
    matplotlib.figure.Figure.savefig = lambda self, *args, **kwargs: figures.append(self) or original(self, *args, **kwargs)
    try:
        path = plot_figure4([run("wgan-gp", [0.0, 0.2, 0.4, 0.6]), run("wgan-clip", [0.0, 0.1, 0.1, 0.2])],
                            tmp_path / "figure4_overfitting.png")
    finally:
        matplotlib.figure.Figure.savefig = original
    assert path.stat().st_size > 5000
    panels = [axes for axes in figures[0].axes if axes.get_lines()]
    assert len(panels) == 2
    for axes in panels:
        assert [line.get_label() for line in axes.get_lines()] == ["training subset", "held-out digits"]
        assert all(len(line.get_xdata()) == 4 for line in axes.get_lines())

"""Figure 4: (b) the overfitting gap from the dev-cost log lines, its claim verdict, and the plot; (a) the rank
correlation between the critic's estimate and the sample metric over snapshots."""

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from gpbench.experiments.figure4 import figure4_claims, gap_summary, plot_figure4
from gpbench.analysis.runresult import RunResult


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
    ends = [0.3, 1.1 / 3]                                      # 95 % t interval over the two seeds: t(0.975, 1) = 12.706
    half = 12.7062047 * np.std(ends, ddof=1) / 2 ** 0.5
    assert summary["interval"] == pytest.approx((np.mean(ends) - half, np.mean(ends) + half))


def test_with_several_seeds_the_claim_is_judged_on_the_interval_over_seeds():
    tight = [run("wgan-gp", [0.0, 0.1, 0.2, 0.3, gap], seed) for seed, gap in enumerate((0.4, 0.45, 0.5))]
    wide = [run("wgan-gp", [0.0, 0.1, 0.0, 0.0, gap], seed) for seed, gap in enumerate((0.9, -0.6, 0.1))]
    verdict = {name: figure4_claims(runs)[0] for name, runs in (("tight", tight), ("wide", wide))}
    assert verdict["tight"]["reproduced"] == "yes" and verdict["wide"]["reproduced"] == "NO"
    # ends 0.3, 0.317, 0.333: std 0.0167, half-width t(0.975, 2) = 4.303 x 0.0167 / sqrt(3) = 0.0414
    assert "0.317 ± 0.017 (std over seeds), 95 % interval [0.275, 0.358]" in verdict["tight"]["measured"]
    assert "3 seed(s): 0.3, 0.317, 0.333)" in verdict["tight"]["measured"]


def test_claims_report_a_separating_gap_as_yes_and_a_flat_one_as_no():
    rows = figure4_claims([run("wgan-gp", [0.0, 0.1, 0.2, 0.3, 0.4]), run("wgan-clip", [0.0, 0.01, -0.01, 0.0, 0.01])])
    verdicts = {row["claim"].split(" on ")[0]: row for row in rows}
    assert verdicts["wgan-gp-subset1000"]["reproduced"] == "yes"
    assert verdicts["wgan-clip-subset1000"]["reproduced"] == "NO"
    assert "0.3, 95 % interval [0.289, 0.311] over the last 3 dev evaluations (iterations 200-400;" in \
        verdicts["wgan-gp-subset1000"]["measured"]


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
    curves, gaps = figures[0].axes[:2], figures[0].axes[2:]
    for axes in curves:
        assert [line.get_label() for line in axes.get_lines()] == ["training subset", "held-out digits"]
        assert all(len(line.get_xdata()) == 4 for line in axes.get_lines())
    for axes in gaps:          # each seed's gap, their mean, the zero line; a band over seeds
        assert [line.get_label() for line in axes.get_lines()][1] == "gap, mean of 1 seed(s)"
        assert axes.collections and axes.get_ylabel() == "gap: training - held-out"


def evaluated_run(seed, estimates, fids, method="wgan-gp", game="wgan"):
    """Snapshots every 100 iterations with ``fids``; the logged negative critic loss between snapshots k-1 and k is
    estimates[k]."""
    log = [{"iteration": 100 * k + offset, "d_loss": -estimate}
           for k, estimate in enumerate(estimates) for offset in (-60, -30) if 100 * k + offset >= 0]
    curve = [{"iteration": 100 * k, "fid_lenet": fid} for k, fid in enumerate(fids)]
    config = {"dataset": "mnist", "method": method, "game": game, "seed": seed, "train_subset": 1000}
    return RunResult(Path(f"runs/q/mnist/{method}-subset1000/seed{seed}"), config, {"status": "completed"}, log, None,
                     curve)


def test_spearman_p_is_the_exact_one_sided_null_distribution():
    """n = 6: rho = 1 - 6 sum(d^2) / 210; P(rho = 1) = 1/720; P(rho >= 0.829) (sum d^2 <= 6) = 21/720 = 0.029, the
    tables' one-sided 5 % critical value; beyond EXACT_SNAPSHOTS, Student's t with n - 2 degrees of freedom."""
    from scipy.stats import t

    from gpbench.experiments.figure4 import spearman_p

    assert spearman_p(1.0, 6) == pytest.approx(1 / 720)
    assert spearman_p(1 - 6 * 6 / 210, 6) == pytest.approx(21 / 720)
    assert spearman_p(1 - 6 * 8 / 210, 6) > 0.05                                    # 0.771: not significant at n = 6
    assert spearman_p(0.5, 12) == pytest.approx(t.sf(0.5 * (10 / 0.75) ** 0.5, 10))


def test_figure4a_the_estimate_tracks_sample_quality_only_against_a_control():
    from gpbench.experiments.figure4 import estimate_quality_correlation

    falling = [5.0, 4.0, 3.0, 2.5, 2.0, 1.5, 1.0]
    tracking = evaluated_run(0, falling, [90, 80, 70, 60, 50, 40, 30])         # both fall: rho +1
    opposite = evaluated_run(1, falling, [30, 40, 50, 60, 70, 80, 90])         # samples worsen: rho -1
    assert estimate_quality_correlation(tracking, "fid_lenet") == (pytest.approx(1.0), 6)   # snapshot 0: no log
    assert estimate_quality_correlation(opposite, "fid_lenet") == (pytest.approx(-1.0), 6)
    assert estimate_quality_correlation(evaluated_run(2, falling[:4], [90, 80, 70, 60]), "fid_lenet") is None
    noisy = evaluated_run(3, falling, [90, 85, 70, 72, 50, 41, 30])
    claim = "wgan-gp-subset1000 on mnist: the critic's negative loss tracks sample quality (Fig. 4a)"
    # without a control a perfect rank correlation is no evidence: both quantities may just trend with training
    alone = {row["claim"]: row for row in figure4_claims([tracking, noisy])}[claim]
    assert alone["reproduced"] == "NO" and "no control" in alone["measured"]
    assert "seed 0: +1.00 over 6 snapshots (p = 0.0014), seed 3: +0.94 over 6 snapshots (p = 0.0083)" in alone["measured"]
    # the GAN discriminator's loss, unrelated to quality in one seed and against it in the other: the control
    control = [evaluated_run(seed, [1.0, 1.2, 0.9, 1.1, 1.0, 1.3, 0.8], fids, "ns-gan", "ns")
               for seed, fids in ((0, [90, 80, 70, 60, 50, 40, 30]), (1, [90, 70, 85, 40, 60, 50, 30]))]
    rows = {row["claim"]: row for row in figure4_claims([tracking, noisy, *control])}
    assert rows[claim]["reproduced"] == "yes" and "against the control ns-gan-subset1000" in rows[claim]["measured"]
    control_row = rows["ns-gan-subset1000 on mnist: the GAN discriminator's negative loss does not track sample "
                       "quality (Fig. 4a, the control)"]
    assert control_row["reproduced"] == "yes"
    # a WGAN run whose samples worsen is not significant in that seed
    rows = {row["claim"]: row for row in figure4_claims([tracking, opposite, *control])}
    assert rows[claim]["reproduced"] == "NO" and "significant at 0.05 in every seed: no" in rows[claim]["measured"]


def test_an_unfinished_run_is_left_out_of_figure4(caplog):
    from types import SimpleNamespace

    from gpbench.experiments.figure4 import finished

    done = SimpleNamespace(unfinished=False, path="a", why_not_counted=None)
    stopped = SimpleNamespace(unfinished=True, path="b", why_not_counted="unfinished (interrupted at iteration 7)")
    with caplog.at_level("WARNING"):
        assert finished([done, stopped]) == [done]
    assert "b is left out of Figure 4: unfinished (interrupted at iteration 7)" in caplog.text

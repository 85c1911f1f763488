"""`gpbench diagnose` on short real runs made to fail in each way: the matching check warns or fails, the
others stay quiet; a healthy preset run is healthy; bad run directories are one-line errors."""

import json

import pytest

from gpbench.cli import main
from gpbench.analysis.diagnose import diagnose
from gpbench.training.rundir import RunDir

# 8gaussians at DIM 32, batch 64, 600 generator iterations: 5-10 s each on one thread.
TOY = {"dataset": "8gaussians", "dim": 32, "batch_size": 64, "iterations": 600, "log_every": 10, "dev_every": 50,
       "dev_samples": 500, "threads": 1, "checkpoint_every": 300}
FAILURES = {
    "preset": ({"method": "wgan-gp"}, None),
    "clip-preset": ({"method": "wgan-clip"}, None),
    "lambda-tiny": ({"method": "wgan-gp", "penalty": {"kind": "wgan-gp", "lambda": 1.0e-6}}, "penalty too weak"),
    "lambda-huge": ({"method": "wgan-gp", "penalty": {"kind": "wgan-gp", "lambda": 1.0e+4}}, "penalty dominates"),
    "critic-lr-100x": ({"method": "wgan-gp", "critic_lr": 1.0e-4, "generator_lr": 1.0e-6}, "configuration"),
    "exploding-lr": ({"method": "wgan-gp", "lr": 1.0e+3, "iterations": 300}, "divergence"),
    "clip-too-tight": ({"method": "wgan-clip", "clip": 0.001, "iterations": 300}, "weight clipping"),
    # the critic memorises a fixed 64-point subset of 25gaussians (Gulrajani Fig. 4b on a toy)
    "tiny-train-subset": ({"method": "wgan-gp", "dataset": "25gaussians", "dim": 64, "iterations": 800,
                           "dev_every": 40, "dev_samples": 2000, "train_subset": 64}, "rising estimate"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("diagnose")
    import yaml

    paths = {}
    for name, (settings, _) in FAILURES.items():
        config = root / f"{name}.yaml"
        config.write_text(yaml.safe_dump({**TOY, **settings}))
        assert main(["train", str(config), "--out", str(root / name)]) == 0
        paths[name] = root / name
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAILURES))
def test_the_matching_check_flags_the_run_and_the_others_stay_quiet(runs, name):
    expected = FAILURES[name][1]
    verdicts = {check.name: check.verdict for check in diagnose(runs[name])}
    flagged = {check for check, verdict in verdicts.items() if verdict in ("warn", "fail")}
    assert flagged == ({expected} if expected else set()), verdicts


@pytest.mark.slow
def test_the_evidence_is_in_numbers(runs):
    checks = {check.name: check for check in diagnose(runs["lambda-tiny"])}
    grip = checks["penalty too weak"]
    assert "escapes the Lipschitz constraint" in grip.evidence and grip.numbers["gradient_norm"] > 2
    assert "vs target 1" in grip.evidence and "iterations 450-599" in grip.evidence
    huge = {check.name: check for check in diagnose(runs["lambda-huge"])}["penalty dominates"]
    assert "dominates" in huge.evidence and huge.numbers["penalty_share"] > 0.5
    diverged = {check.name: check for check in diagnose(runs["exploding-lr"])}["divergence"]
    assert diverged.verdict == "fail" and "rising before it" in diverged.evidence
    overfit = {check.name: check for check in diagnose(runs["tiny-train-subset"])}["rising estimate"]
    assert "overfits the training set" in overfit.evidence and overfit.numbers["gap_end"] > 0


@pytest.mark.slow
def test_the_command_prints_checks_writes_the_health_plot_and_json(runs, capsys):
    assert main(["diagnose", str(runs["lambda-tiny"]), str(runs["preset"])]) == 0
    printed = capsys.readouterr().out
    assert "lambda-tiny: WARN" in printed and "preset: OK" in printed and "advice: raise lambda" in printed
    assert main(["diagnose", str(runs["clip-too-tight"]), "--json", "--write"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "warn" and report["worst_check"] == "weight clipping"
    assert RunDir(runs["clip-too-tight"]).read_diagnosis() == report
    assert (runs["clip-too-tight"] / "diagnosis.png").stat().st_size > 10_000


def test_a_directory_that_is_not_a_run_is_one_line_and_non_zero(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "is not a gpbench run" in error


@pytest.mark.slow
def test_a_truncated_metrics_log_is_one_line_and_non_zero(runs, tmp_path, capsys):
    import shutil

    copy = tmp_path / "cut"
    shutil.copytree(runs["preset"], copy)
    metrics = copy / "metrics.jsonl"
    metrics.write_bytes(metrics.read_bytes()[:-25])
    assert main(["diagnose", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "metrics.jsonl is truncated" in error


def test_the_health_cell_of_seeds_shows_the_worst_verdict_by_severity_not_by_spelling(tmp_path):
    """"warn" sorts after "fail" as a string; a failed seed must make the cell "fail"."""
    from gpbench.report.health import health_cell
    from gpbench.analysis.runresult import RunResult

    runs = []
    for seed, verdict, check in ((0, "warn", "rising estimate"), (1, "fail", "divergence"), (2, "ok", None)):
        path = tmp_path / f"seed{seed}"
        path.mkdir()
        RunDir(path).write_diagnosis({"verdict": verdict, "worst_check": check, "checks": []})
        runs.append(RunResult(path, {"seed": seed}, {}, [], None, []))
    assert health_cell(runs) == "fail: rising estimate (seed 0), divergence (seed 1)"
    assert health_cell(runs[2:]) == "ok"


def fake_result(root, dataset, method, seed, spread, metrics, label=None):
    """An evaluated run in the pipeline layout <dataset>/<label>/seed<k> (label: the method, or method-variant)."""
    from gpbench.training.config import resolve
    from gpbench.analysis.runresult import RunResult

    path = root / dataset / (label or method) / f"seed{seed}"
    path.mkdir(parents=True)
    config = resolve({"method": method, "dataset": dataset, "seed": seed, "iterations": 1000})
    return RunResult(path, config, {"status": "completed", "iteration": 1000, "data": f"{dataset} data"}, [],
                     {"metrics": {**metrics, "sample_spread": spread}}, [])


def test_a_collapsed_baseline_is_a_failure_in_the_tables_and_not_a_comparison(tmp_path):
    """MNIST NS-GAN with every sample black (IS 1, FID 4,875): 0 of 2 seeds usable, "collapsed" in the stability
    column, and no "WGAN-GP better" line against it."""
    from gpbench.report import tables

    runs = [fake_result(tmp_path, "mnist", "ns-gan", seed, 2e-5, {"fid_lenet": 4875.0, "is_lenet": 1.0})
            for seed in (0, 1)]
    runs += [fake_result(tmp_path, "mnist", "wgan-gp", seed, 0.9, {"fid_lenet": 20.0 + seed, "is_lenet": 8.0})
             for seed in (0, 1)]
    blocks, records = tables.replication(runs)
    row = next(row for row in blocks[0].rows if row[0] == "ns-gan")
    assert row[1] == "0/2" and row[2] == "—"
    assert "collapsed seed 0 (sample spread 2.0e-05), seed 1 (sample spread 2.0e-05)" in row
    assert not any("none diverged" in cell for cell in row)
    assert any(note.startswith("WGAN-GP vs ns-gan: not compared, no ns-gan seed trained to usable samples")
               for note in blocks[0].notes)
    assert not any("better" in note for note in blocks[0].notes)
    assert blocks[0].notes[0] == "Data: mnist data."          # what the runs trained on, from their status
    runs[2].final["protocol"] = {"real_floor": {"fid_lenet": 0.8123, "images": 2000}}
    blocks, _ = tables.replication(runs)
    assert blocks[0].notes[1] == ("Real-vs-real floor: FID (LeNet) 0.8123 between two disjoint sets of 2,000 "
                                  "training images (what samples as good as the data score at this size).")


def test_diagnose_fails_a_run_whose_final_samples_are_all_the_same(tmp_path):
    from gpbench.analysis.diagnose import check_collapse

    run = fake_result(tmp_path, "mnist", "ns-gan", 0, 2e-5, {"fid_lenet": 4875.0, "is_lenet": 1.0})
    check = check_collapse(run)
    assert check.verdict == "fail" and "all the same" in check.evidence and "2.0e-05" in check.evidence


def test_the_per_run_rows_say_which_seeds_count_and_why_not(tmp_path):
    from gpbench.report.tables import run_records

    runs = [fake_result(tmp_path, "mnist", "ns-gan", 0, 2e-5, {"fid_lenet": 4875.0, "is_lenet": 1.0}),
            fake_result(tmp_path, "mnist", "ns-gan", 1, 0.8, {"fid_lenet": 900.0, "is_lenet": 5.0})]
    runs[1].final.update({"iteration": 1000, "protocol": {"samples": 2000}})
    records = run_records(runs)
    assert [(r["seed"], r["counted"], r["fid_lenet"]) for r in records] == [(0, "no: collapsed", 4875.0),
                                                                           (1, "yes", 900.0)]
    assert records[1]["samples"] == 2000 and records[1]["method"] == "ns-gan"


def test_one_unlucky_curve_point_is_not_a_collapse_but_a_sustained_drop_is(tmp_path):
    """Curve points score a few hundred samples: the check compares 3-snapshot means, so a last point 12 modes
    down (one noisy evaluation) passes while three points 8 modes down (mean 17 vs best 25) warn."""
    from gpbench.analysis.diagnose import check_collapse

    run = fake_result(tmp_path, "25gaussians", "wgan-gp", 0, 0.9, {"modes": 20})
    run.log = [{"iteration": 100 * i, "wasserstein_estimate": 1.0 - 0.01 * i} for i in range(20)]
    modes = {"noisy": [20, 25, 25, 25, 25, 25, 25, 13], "sustained": [20, 25, 25, 25, 25, 17, 17, 17]}
    verdicts = {}
    for name, values in modes.items():
        run.curve = [{"iteration": 250 * i, "modes": value, "total_modes": 25} for i, value in enumerate(values)]
        verdicts[name] = check_collapse(run)
    assert verdicts["noisy"].verdict == "ok" and "modes captured 21.0 of 25 at the end" in verdicts["noisy"].evidence
    assert verdicts["sustained"].verdict == "warn" and "fell from 25.0 to 17.0" in verdicts["sustained"].evidence


def test_separation_is_a_welch_95_percent_interval_of_the_difference_of_means():
    """Hand-computed: means 1.0 and 0.5, std 0.1 and 0.2, 5 seeds each: se = sqrt(0.01/5 + 0.04/5) = 0.1,
    df = 0.01^2 / ((0.002^2 + 0.008^2) / 4) = 5.882, t(0.975, 5.882) = 2.4588: 0.5 ± 0.2459; p = 2 t.sf(5, 5.882);
    detectable at 80 % power: (2.4588 + t(0.8, 5.882)) * 0.1."""
    from scipy.stats import t

    from gpbench.analysis.statistics import compare
    from gpbench.report.tables import separation, verdict

    comparison = compare((1.0, 0.1, 5), (0.5, 0.2, 5))
    assert comparison.interval == pytest.approx((0.5 - 0.24588, 0.5 + 0.24588), abs=1e-5)
    assert comparison.p == pytest.approx(2 * t.sf(5.0, 5.882), rel=1e-3) and comparison.test == "Welch t"
    assert comparison.detectable == pytest.approx(0.24588 + t.ppf(0.8, 5.882) * 0.1, rel=1e-4)
    assert verdict(comparison, "is_lenet") == "better"         # higher is better
    assert verdict(comparison, "fid_lenet") == "worse"         # lower is better
    # the old rule (difference > sum of the stds) called this "better": +0.215 against a spread of 0.213
    reason, close = separation((0.111, 0.106, 2), (0.326, 0.107, 2))
    assert reason is None and verdict(close, "emd") == "not separated" and close.interval[0] < 0 < close.interval[1]
    assert separation((1.0, 0.0, 1), (0.5, 0.2, 5))[0] == "no seed spread (1 seed) (+0.5)"
    assert separation(None, (0.5, 0.2, 5)) == ("not measured", None)


def test_comparisons_without_spread_use_the_exact_rank_test_and_holm_adjusts_in_step_down_order():
    """"8 ± 0 vs 7 ± 0" is no certainty: with 3 seeds each the exact rank test's smallest two-sided p is
    2 / C(6, 3) = 0.1, so nothing is detectable; with 4 seeds each, 2 / 70 < 0.05."""
    from gpbench.analysis.statistics import Comparison, compare, holm
    from gpbench.report.tables import verdict

    three = compare((8.0, 0.0, 3), (7.0, 0.0, 3))
    assert three.test == "exact rank" and three.p == pytest.approx(0.1) and three.detectable is None
    assert verdict(three, "modes") == "not separated" and "no difference detectable" in three.text()
    four = compare((8.0, 0.0, 4), (7.0, 0.0, 4))
    assert four.p == pytest.approx(2 / 70) and four.detectable == 0.0 and verdict(four, "modes") == "better"
    same = compare((8.0, 0.0, 3), (8.0, 0.0, 3))
    assert same.test == "identical" and verdict(same, "modes") == "identical"
    # Holm: p = 0.01, 0.04, 0.03 of m = 3 -> 0.03, max(0.06, 0.06) = 0.06, 0.06
    comparisons = [Comparison(1.0, None, p, "Welch t", None) for p in (0.01, 0.04, 0.03)]
    holm(comparisons)
    assert [c.adjusted_p for c in comparisons] == pytest.approx([0.03, 0.06, 0.06])
    assert verdict(comparisons[0], "is") == "better" and verdict(comparisons[2], "is") == "not separated"


def test_gp_with_rmsprop_is_compared_with_clipping_at_the_same_optimizer(tmp_path):
    from gpbench.report import tables

    runs = [fake_result(tmp_path, "8gaussians", method, seed, 1.0, {"emd": value + 0.01 * seed})
            for method, value in (("wgan-gp", 0.1), ("wgan-gp-rmsprop", 0.2), ("wgan-clip", 0.5))
            for seed in range(3)]
    blocks, records = tables.replication(runs)
    notes = blocks[0].notes
    assert [note.split(":")[0] for note in notes] == ["Data", "WGAN-GP vs wgan-clip",
                                                      "WGAN-GP vs wgan-gp-rmsprop", "wgan-gp-rmsprop vs wgan-clip"]
    # ± t(0.975, 4) * 0.00816; the primary metric's p Holm-adjusted over the table's 3 comparisons
    assert "EMD [primary, Holm-adjusted] better (-0.3, 95 % CI [-0.323, -0.277], Welch t p = " in notes[3]
    assert "Holm p = " in notes[3] and "sliced W [exploratory] not measured" in notes[3]
    assert {record["metric"]: record["vs_wgan-clip"] for record in records
            if record["method"] == "wgan-gp-rmsprop" and record["metric"] in ("emd", "swd")} == \
        {"emd": "better", "swd": "not measured"}


def test_the_flex_table_says_what_each_penalty_constrains(tmp_path):
    from gpbench.report import tables

    penalties = {"wgan-gp": {"kind": "wgan-gp"}, "none": {"kind": "none"},
                 "hypergan": {"kind": "flex", "flex": 1.0},                     # HyperGAN's default: on g_loss
                 "both": {"kind": "flex", "flex": 1.0, "loss": "both"}}
    runs = []
    for name, penalty in penalties.items():
        result = fake_result(tmp_path, "8gaussians", "wgan-gp", 0, 1.0, {"emd": 0.1}, label=f"wgan-gp-{name}")
        result.config["penalty"] = penalty
        runs.append(result)
    _, records = tables.flex(runs)
    assert {record["setting"]: record["constrains"] for record in records} == {
        "wgan-gp-wgan-gp": "critic", "wgan-gp-none": "nothing (no penalty)",
        "wgan-gp-hypergan": "generator only (critic unconstrained)", "wgan-gp-both": "critic and generator"}


def test_the_flex_table_ranks_on_the_primary_metric_and_compares_with_the_control_and_plain_wgan_gp(tmp_path):
    """EMD (lower is better), 3 seeds each: a good setting beats the no-penalty control after Holm over the 3 other
    settings, a near-identical one separates from nothing; the wgan-gp row at the preset λ is the reference."""
    from gpbench.report import tables

    emd = {"none": (1.0, 0.1), "wgan-gp": (0.30, 0.02), "good": (0.25, 0.01), "same": (0.31, 0.2)}
    penalties = {"none": {"kind": "none"}, "wgan-gp": {"kind": "wgan-gp", "lambda": 0.1},
                 "good": {"kind": "zero-gp", "lambda": 0.1}, "same": {"kind": "r1", "lambda": 0.1}}
    runs = []
    for name, (mean, step) in emd.items():
        for seed in range(3):
            result = fake_result(tmp_path, "8gaussians", "wgan-gp", seed, 1.0, {"emd": mean + step * (seed - 1)},
                                 label=f"wgan-gp-{name}")
            result.config["penalty"] = penalties[name]
            runs.append(result)
    blocks, records = tables.flex(runs)
    by_setting = {record["setting"].removeprefix("wgan-gp-"): record for record in records}
    assert {name: record["rank"] for name, record in by_setting.items()} == {"good": 1, "wgan-gp": 2, "same": 3,
                                                                             "none": 4}
    assert by_setting["good"]["vs_control"].startswith("better: -0.75 [")
    assert by_setting["same"]["vs_reference"].startswith("not separated: +0.01 [")
    assert by_setting["none"]["vs_control"] == "control" and by_setting["wgan-gp"]["vs_reference"] == "reference"
    assert blocks[0].header[5:8] == ["rank (EMD)", "vs wgan-gp-none", "vs wgan-gp-wgan-gp"]   # the runs' own names
    assert [row[0] for row in blocks[0].rows] == [record["setting"] for record in records]        # as in the CSV
    assert "Holm p" in by_setting["good"]["vs_control"] and "Primary metric: EMD" in blocks[0].notes[0]


def test_methods_are_also_compared_at_equal_wall_clock_on_their_curves(tmp_path):
    """NS-GAN trains 4x faster per iteration: at its 100 s WGAN-GP has only reached its 100-s snapshot. Each run's
    curve value at the last snapshot within the faster method's mean training time is compared."""
    from gpbench.report import tables

    runs = []
    for method, step, values in (("wgan-gp", 100, [60, 40, 30, 20, 10]), ("ns-gan", 25, [60, 50, 45, 42, 41])):
        for seed in range(3):
            result = fake_result(tmp_path, "mnist", method, seed, 0.9,
                                 {"fid_lenet": values[-1] + seed, "is_lenet": 5.0 + seed})
            result.curve = [{"iteration": 200 * k, "elapsed_seconds": step * k, "fid_lenet": value + seed}
                            for k, value in enumerate(values)]
            runs.append(result)
    blocks, _ = tables.replication(runs)
    line = next(note for note in blocks[0].notes if note.startswith("WGAN-GP vs ns-gan"))
    # final: WGAN-GP 10-12 against 41-43, better; at 100 s: WGAN-GP's 40-42 against NS-GAN's 41-43, not separated
    assert "FID (LeNet) [primary, Holm-adjusted] better (-31" in line
    assert "at equal wall clock (100 s, curve points, exploratory) not separated (-1," in line


def test_a_check_with_too_little_logged_says_skip_with_the_threshold_it_applies(tmp_path, capsys):
    import yaml

    config = tmp_path / "short.yaml"
    config.write_text(yaml.safe_dump({**TOY, "method": "wgan-gp", "iterations": 11, "log_every": 1}))
    assert main(["train", str(config), "--out", str(tmp_path / "short")]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "short")]) == 0
    report = capsys.readouterr().out
    assert "[skip] rising estimate: too few logged iterations to judge (11; 16 needed)" in report
    from gpbench.analysis.diagnose import as_json, diagnose

    checks = diagnose(tmp_path / "short")
    skipped = {check.name for check in checks if check.verdict == "skip"}
    assert "rising estimate" in skipped and as_json(tmp_path / "short", checks)["worst_check"] not in skipped

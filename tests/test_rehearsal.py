"""The GPU path rehearsed on CPU: synthetic CIFAR-10 in the real format through the real loader, random
Inception weights through the real --inception-weights path, the rehearsal suite end to end, and the labels
that say so; the paper suite's Figure 3 set; the cost model's schedule; small progress logs."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gpbench.cli import main
from gpbench.training.config import resolve
from gpbench.suite.cost import (best_runs_per_gpu, measure_sharing, suite_cost, time_config, to_markdown,
                                wall_clock_hours)
from gpbench.suite.costfile import RunCost, Timing, load_costs, signature, timings_from_json, to_json
from gpbench.data import get_dataset, images
from gpbench.errors import ConfigError, DataError
from gpbench.suite.pipeline import gpu_slots, load_suite, plan
from gpbench.suite.rehearsal import write_random_inception, write_synthetic_cifar10

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def test_synthetic_cifar10_is_read_by_the_real_loader_and_announced(tmp_path):
    folder = write_synthetic_cifar10(tmp_path, images_per_batch=20)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta", "SYNTHETIC"])
    pixels, labels, source = get_dataset("cifar10").load(str(tmp_path), "train")
    assert pixels.shape == (100, 3, 32, 32) and set(labels) <= set(range(10))
    assert source.startswith("SYNTHETIC DATA")
    (folder / "SYNTHETIC").unlink()                 # without the marker, the real md5 check applies
    with pytest.raises(DataError, match="checksum"):
        images.load_cifar10(tmp_path, "train", download=False)


def test_random_inception_weights_go_through_the_real_path_and_say_so(tmp_path):
    from gpbench.metrics.features import InceptionFeatures

    path = write_random_inception(tmp_path / "random.pth")
    extractor = InceptionFeatures(path)
    assert extractor.notes["inception_weights"].startswith("RANDOM INCEPTION")
    (tmp_path / "random.pth.random.json").unlink()
    assert InceptionFeatures(path).notes["inception_weights"].startswith("UNOFFICIAL INCEPTION WEIGHTS")


@pytest.mark.slow
def test_the_rehearsal_suite_runs_every_image_path_to_the_tables(tmp_path):
    started = time.time()
    result = subprocess.run([*SNAKEMAKE, "--cores", "2", "--configfile", str(REPO / "configs/rehearsal.yaml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert time.time() - started < 900
    tables = tmp_path / "results" / "rehearsal" / "tables"
    with open(tables / "replication.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row["dataset"] == "cifar10"]
    methods = {row["method"] for row in rows}
    assert methods == {"wgan-clip", "wgan-gp-rmsprop", "wgan-gp", "ns-gan", "wgan-gp-cifar10-resnet"}
    for method in methods:
        values = {row["metric"]: row["mean"] for row in rows if row["method"] == method}
        assert set(values) == {"fid", "is", "kid"} and all(values.values()), method
    assert all(row["rehearsal"] == " - SYNTHETIC DATA, RANDOM INCEPTION: rehearsal numbers, not results" for row in rows)
    markdown = (tables / "replication.md").read_text()
    assert "## cifar10 - SYNTHETIC DATA, RANDOM INCEPTION" in markdown
    assert "SYNTHETIC DATA, RANDOM INCEPTION" in (tables / "flex.md").read_text()
    plots = tmp_path / "results" / "rehearsal" / "plots"
    assert (plots / "figure3_cifar10.png").stat().st_size > 10_000
    resnet = yaml.safe_load((tmp_path / "runs/rehearsal/cifar10/wgan-gp-cifar10-resnet/seed0/config.yaml").read_text())
    assert resnet["generator_batch_size"] == 128 and resnet["lr_decay"] == "linear" and resnet["dequantize"]
    dirac = (tmp_path / "results/rehearsal/dirac/dirac.md").read_text()   # the certificate's rule, two settings
    assert "| r1 λ=0.3 | -0.15+0.477i, -0.15-0.477i" in dirac and "game: wgan" not in dirac
    figure2 = (tables / "architectures.md").read_text()              # Figure 2 on a 64x64 image folder
    assert "imagefolder64 - SYNTHETIC DATA, RANDOM INCEPTION" in figure2 and "| resnet" in figure2
    assert (plots / "figure2_grid_imagefolder64.png").stat().st_size > 5000
    table1 = (tables / "random_architectures.md").read_text()        # Table 1 on a 32x32 one
    assert "SYNTHETIC DATA, RANDOM INCEPTION" in table1 and "0 / 8 / 192 / 0" in table1
    for run in ("imagefolder64/wgan-gp-resnet/seed0", "imagefolder32/wgan-gp-random000/seed0"):
        evaluated = json.loads((tmp_path / "runs/rehearsal" / run / "eval.json").read_text())
        assert evaluated["data"].startswith("SYNTHETIC DATA") and set(evaluated["metrics"]) >= {"fid", "is"}, run


@pytest.mark.slow
def test_the_paper_suite_has_the_figure3_set_the_resnet_and_flex_on_cifar10():
    runs = plan(yaml.safe_load((REPO / "configs/paper.yaml").read_text()), base=REPO)
    cifar = {(run.label, run.seed) for run in runs if run.dataset == "cifar10" and run.group == "replication"}
    for method in ("wgan-clip", "wgan-gp-rmsprop", "wgan-gp", "ns-gan", "wgan-gp-cifar10-resnet"):
        assert {seed for label, seed in cifar if label == method} == {0, 1, 2}, method
    flex = [run for run in runs if run.dataset == "cifar10" and run.group == "flex"]
    assert len(flex) == 36                                         # 11 penalty variants and the no-penalty control, 3 seeds
    assert {run.seed for run in flex if run.variant == "none"} == {0, 1, 2}
    rmsprop = next(run for run in runs if run.label == "wgan-gp-rmsprop")
    from gpbench.training.config import resolve

    config = resolve(rmsprop.config)
    assert config["optimizer"] == "rmsprop-tf" and config["lr"] == 5e-5 and config["penalty"]["lambda"] == 10
    assert config["critic_batchnorm"] is False                     # a per-sample penalty: no critic batchnorm
    dry = subprocess.run([*SNAKEMAKE, "-n"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-2000:]
    for method in ("wgan-clip", "wgan-gp-rmsprop", "wgan-gp", "ns-gan"):
        for seed in (0, 1, 2):
            assert f"runs/paper/cifar10/{method}/seed{seed}/train.done" in dry.stdout


def cost(hours, slots=12):
    return RunCost("run", {}, Timing(1.0, 1, 0.0, "CPU"), hours, slots)


def test_the_cost_schedule_packs_shared_runs_and_keeps_the_longest_run():
    assert wall_clock_hours([cost(10), cost(10), cost(10)], devices=2) == 20
    assert wall_clock_hours([cost(10), cost(1), cost(1)], devices=2) == 10
    # four runs that share a GPU four ways run side by side on one device
    assert wall_clock_hours([cost(3, slots=3)] * 4, devices=1) == 3
    assert wall_clock_hours([cost(3, slots=3)] * 5, devices=1) == 6
    assert signature({"dataset": "mnist", "seed": 1, "iterations": 5, "dim": 8}) == \
        signature({"dataset": "mnist", "seed": 2, "iterations": 9, "dim": 8})


def test_a_cost_file_written_before_a_config_key_existed_still_costs_that_setting(tmp_path):
    """A key added to run configs later with no value (None) does not change a setting's signature, so a committed
    cost file keeps matching (before, every lookup missed and SLURM time limits fell back to the assumption)."""
    entry = {"seconds_per_iteration": 0.5, "dev_seconds": 2.0, "device": "CPU"}
    old = json.dumps({"dataset": "mnist", "dim": 8, "penalty": {"kind": "wgan-gp", "lambda": 10.0}})
    path = tmp_path / "cost.json"
    path.write_text(json.dumps({old: entry}))
    today = {"dataset": "mnist", "dim": 8, "penalty": {"kind": "wgan-gp", "lambda": 10.0}, "resnet_blocks": None}
    assert load_costs(str(path))[signature(today)] == entry
    assert signature({**today, "dim": 16}) not in load_costs(str(path))


def test_a_suite_is_projected_again_from_times_measured_elsewhere(tmp_path, capsys):
    """--from-json: the times of another machine (here a made-up GPU), each run's hours from its own length."""
    suite = ["configs/tiny.yaml"]
    runs_per_gpu = load_suite([REPO / path for path in suite]).get("runs_per_gpu")
    runs = plan(load_suite([REPO / path for path in suite]))
    measured = {signature(resolve(run.config)): {"seconds_per_iteration": 0.036, "dev_seconds": 1.8,
                                                 "device": "TEST GPU", "iterations_timed": 100} for run in runs}
    (tmp_path / "times.json").write_text(json.dumps(measured))
    costs = suite_cost([REPO / path for path in suite], measured=timings_from_json(measured))
    assert len(costs) == len(runs)
    for run_cost in costs:
        config = run_cost.config
        dev_evaluations = -(-config["iterations"] // config["dev_every"])
        assert run_cost.hours == pytest.approx((config["iterations"] * 0.036 + dev_evaluations * 1.8) / 3600)
        assert run_cost.slots == gpu_slots(config["dataset"], runs_per_gpu)  # a GPU's times: runs share it
    table = to_markdown(costs, suite, [1, 2], "gpbench cost --from-json times.json")
    assert "Measured on TEST GPU" in table and "GPU-hours" in table and "read from an earlier" in table
    assert to_json(costs) == {key: {**value, "iterations_timed": None, "engine": "eager", "by_engine": {}}
                              for key, value in measured.items()}

    del measured[next(iter(measured))]
    (tmp_path / "times.json").write_text(json.dumps(measured))
    assert main(["cost", "--suite", str(REPO / suite[0]), "--from-json", str(tmp_path / "times.json")]) == 2
    assert "the measured times have no entry for" in capsys.readouterr().err


def test_engines_side_by_side_and_a_measured_sharing_in_the_projection(tmp_path):
    """A run that shares a GPU K ways is slowed by its family's measured factor at K; the table shows both
    engines, the speed-up, the engine used and the sharing measurement."""
    suite = ["configs/tiny.yaml"]
    runs = plan(load_suite([REPO / path for path in suite]))
    measured = {signature(resolve(run.config)): {"seconds_per_iteration": 0.004, "dev_seconds": 0.0,
                                                 "device": "TEST GPU", "engine": "graph",
                                                 "by_engine": {"eager": 0.030, "graph": 0.004}} for run in runs}
    sharing = {"toy": {1: 0.004, 2: 0.005, 4: 0.010}, "mnist-like": {1: 0.004, 2: 0.008}}
    alone = suite_cost([REPO / path for path in suite], measured=timings_from_json(measured))
    shared = suite_cost([REPO / path for path in suite], measured=timings_from_json(measured), sharing=sharing)
    runs_per_gpu = load_suite([REPO / path for path in suite]).get("runs_per_gpu") or {}
    for before, after in zip(alone, shared):
        info = get_dataset(after.config["dataset"])
        family, count = info.family, runs_per_gpu.get(info.family, info.jobs.runs_per_gpu)
        factor = sharing[family][count] / sharing[family][1] if count in sharing[family] else 1.0
        assert after.slowdown == factor and after.hours == pytest.approx(before.hours * factor)
    table = to_markdown(shared, suite, [1], "gpbench cost", sharing)
    assert "| eager ms / iteration | graph ms / iteration | speed-up |" in table
    assert "| 30.00 | 4.00 | 7.5x | 4.00 | graph |" in table
    assert "## Sharing one GPU" in table and "| toy | 2 (best) | 5.00 | 400.0 | 1.60x |" in table
    assert "measured aggregate throughput" in table


def test_the_best_runs_per_gpu_is_the_highest_aggregate_throughput_worth_five_percent():
    assert best_runs_per_gpu({1: 1.0, 2: 1.2, 4: 2.0}) == 4          # aggregates 1, 1.67, 2.0 (+20 % over K=2)
    assert best_runs_per_gpu({1: 1.0, 2: 1.95, 4: 3.9}) == 1         # 1.026 and 1.026: +2.6 %, not worth it
    assert best_runs_per_gpu({1: 1.0, 2: 1.1, 4: 2.3, 6: 3.0}) == 6  # 1.82, 1.74 (below 2's), 2.0 (+10 % over 2)


def test_a_timing_is_keyed_by_the_engine_that_ran(tmp_path):
    """`auto` is eager on a CPU: the cost table's engine column says what ran, not what was asked."""
    config = resolve({"method": "wgan-gp", "dataset": "8gaussians", "dim": 16, "batch_size": 32, "threads": 1,
                      "device": "cpu"})
    timing = time_config(config, tmp_path, budget_seconds=0.05, min_iterations=2, max_iterations=5)
    assert timing.engine == "eager" and set(timing.by_engine) == {"eager"}
    both = time_config(config, tmp_path / "both", 0.05, 2, 5, engines=("eager", "graph"))
    assert both.engine == "eager" and set(both.by_engine) == {"eager", "graph"}


@pytest.mark.slow
def test_sharing_is_measured_with_k_processes_at_once(tmp_path):
    config = resolve({"method": "wgan-gp", "dataset": "8gaussians", "dim": 16, "batch_size": 32, "threads": 1,
                      "device": "cpu"})
    measured = measure_sharing(config, [1, 2], tmp_path, seconds=0.5)
    assert sorted(measured) == [1, 2] and all(0 < value < 1 for value in measured.values())


@pytest.mark.parametrize("arguments, named", [
    (["--engines", "turbo"], "--engines: 'turbo' is not allowed; allowed: auto, eager, graph"),
    (["--sharing", "5"], "--sharing: expected counts that divide 12"),
    (["--sharing-from", "missing.json"], "--sharing-from: missing.json does not exist"),
    (["--sharing-from", "{bad}"], "is not what gpbench cost --sharing-json writes"),
])
def test_bad_cost_options_end_in_one_line(tmp_path, monkeypatch, capsys, arguments, named):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "{bad}").write_text('{"families": [1]}')
    assert main(["cost", "--suite", str(REPO / "configs/tiny.yaml"), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert named in error and len(error.splitlines()) == 1


@pytest.mark.parametrize("content, named", [
    (None, "does not exist"), ("{not json", "is not readable JSON"),
    ('{"a": {"dev_seconds": 1}}', "each setting needs"), ("[1, 2]", "each setting needs"),
    ('{"{}": {"seconds_per_iteration": -0.05, "dev_seconds": 1, "device": "CPU"}}',
     "seconds_per_iteration = -0.05 is not allowed .a finite number of seconds >= 0."),
    ('{"{}": {"seconds_per_iteration": "0.5", "dev_seconds": 1, "device": "CPU"}}', "seconds_per_iteration = '0.5'"),
    ('{"{}": {"seconds_per_iteration": 0.5, "dev_seconds": Infinity, "device": "CPU"}}', "dev_seconds = inf"),
    ('{"{}": {"seconds_per_iteration": 0.5, "dev_seconds": 1, "device": 3}}', "device = 3 is not allowed .a device name.")])
def test_a_bad_cost_file_is_named_with_what_it_should_be(tmp_path, content, named):
    path = tmp_path / "times.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=named):
        load_costs(str(path))
    assert load_costs(None) == {}


@pytest.mark.slow
def test_a_pipeline_job_writes_at_most_about_one_progress_line_a_minute(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("method: wgan-gp\ndataset: 8gaussians\ndim: 16\nbatch_size: 32\niterations: 100000\n"
                      "threads: 1\nlog_every: 50\ncheckpoint_every: 100000\n")
    with open(tmp_path / "train.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gpbench.cli", "train", str(config), "--out",
                                    str(tmp_path / "run")], stdout=log, stderr=log)
        time.sleep(12)
        process.terminate()
        process.wait(timeout=60)
    text = (tmp_path / "train.log").read_text()
    size = os.path.getsize(tmp_path / "train.log")
    assert size < 600, text                  # tqdm's default on a terminal: ~10 redraws a second, ~150 bytes each
    logged = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(logged) >= 3                  # it trained hundreds of iterations meanwhile


def test_the_cost_measurement_stands_synthetic_data_in_only_for_missing_cifar10_and_image_folders(tmp_path):
    from gpbench.suite.cost import data_root_for
    from gpbench.data.images import CIFAR_DIR, SYNTHETIC_MARKER

    real, synthetic = tmp_path / "real", tmp_path / "synthetic"
    for dataset, folder in (("cifar10", CIFAR_DIR), ("imagefolder32", "imagefolder32")):
        assert data_root_for({"dataset": dataset, "data_root": str(real)}, synthetic) == str(synthetic)
        assert (synthetic / folder / SYNTHETIC_MARKER).is_file()
        (real / folder).mkdir(parents=True)                   # the data is there now: the suite's root is used
        assert data_root_for({"dataset": dataset, "data_root": str(real)}, synthetic) == str(real)
    assert data_root_for({"dataset": "mnist", "data_root": str(real)}, synthetic) == str(real)
    assert data_root_for({"dataset": "8gaussians", "data_root": str(real)}, synthetic) == str(real)


def test_a_suite_the_schema_refuses_is_refused_by_gpbench_cost_in_one_line(tmp_path, capsys):
    suite = yaml.safe_load((REPO / "configs/random-architectures.yaml").read_text())
    suite["random_architectures"]["count"] = "2"                   # a string where a whole number goes
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    assert main(["cost", "--suite", str(tmp_path / "suite.yaml")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "random_architectures.count: '2' is not of type 'integer'" in error

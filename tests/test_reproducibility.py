"""`gpbench reproduce`: re-runs compared with the committed per-run tables; the verdicts on constructed rows."""

import yaml

from gpbench.cli import main
from gpbench.training.config import resolve
from gpbench.analysis.evaluate import evaluate_run
from gpbench.suite.pipeline import load_suite, plan
from gpbench.report.reproducibility import compare, verdict
from gpbench.report.tables import write_tables
from gpbench.training.train import Trainer

SUITE = {"suite": "repro", "seeds": [0, 1], "threads": 1,
         "replication": [{"datasets": ["8gaussians"], "methods": ["wgan-gp"],
                          "overrides": {"dim": 8, "batch_size": 32, "iterations": 4, "checkpoint_every": 2}}],
         "eval": {"samples": {"8gaussians": 200}}}


def test_verdicts_name_identical_inside_and_outside_the_committed_seeds():
    assert verdict(1.0, 1.0, [0.5, 1.0, 1.5]) == "identical"
    assert verdict(1.0, 0.7, [0.5, 1.0, 1.5]) == "inside the seeds' range"
    assert verdict(1.0, 2.5, [0.5, 1.0, 1.5]) == "OUTSIDE the seeds' range (3.0 std from their mean)"   # std 0.5
    committed = {("8gaussians", "wgan-gp", seed): {"counted": "yes", "emd": str(value), "seed": str(seed)}
                 for seed, value in enumerate((0.5, 1.0, 1.5))}
    committed[("8gaussians", "wgan-gp", 3)] = {"counted": "no: collapsed", "emd": "9.0", "seed": "3"}
    [row] = compare(committed, {("8gaussians", "wgan-gp", 1): {"emd": 1.25, "sample_spread": 0.8}})
    assert (row["committed"], row["rerun"], row["seeds"], row["seed_range"]) == (1.0, 1.25, 3, (0.5, 1.5))


def test_a_rerun_on_the_same_machine_is_identical_to_the_committed_seed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(SUITE))
    run_dirs = []
    for run in plan(load_suite([tmp_path / "suite.yaml"])):        # the "committed" suite, run once
        run_dir = tmp_path / "runs" / run.path
        Trainer(resolve({**run.config, "threads": 1}), run_dir, progress=False).run()
        evaluate_run(run_dir, samples=200, curves=False, progress=False)
        run_dirs.append(str(run_dir))
    write_tables("replication", run_dirs, tmp_path / "results/repro/tables/replication", "")
    assert main(["reproduce", "--suite", "suite.yaml", "--runs", "8gaussians/wgan-gp/seed1", "--work", "again"]) == 0
    page = (tmp_path / "results/repro/reproducibility.md").read_text()
    assert "| 8gaussians/wgan-gp/seed1 | EMD |" in page and "Verdicts: identical: 4." in page
    capsys.readouterr()
    assert main(["reproduce", "--suite", "suite.yaml", "--runs", "mnist/wgan-gp/seed0", "--work", "x"]) == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1 and "'mnist/wgan-gp/seed0' is not a run of suite.yaml" in error
    assert main(["reproduce", "--suite", "suite.yaml", "--runs", "8gaussians/wgan-gp/seed1", "--work", "again"]) == 2
    assert "--work: again/8gaussians/wgan-gp/seed1 already holds a run; reproduce trains each run from scratch" in \
        capsys.readouterr().err
    per_run = tmp_path / "results/repro/tables/replication_runs.csv"
    rows = per_run.read_text().splitlines()
    per_run.write_text("\n".join(rows[:1] + [row for row in rows[1:] if ",1," not in row]) + "\n")   # seed 1's row gone
    assert main(["reproduce", "--suite", "suite.yaml", "--runs", "8gaussians/wgan-gp/seed1", "--work", "fresh"]) == 2
    assert "no committed row for 8gaussians/wgan-gp/seed1" in capsys.readouterr().err
    assert not (tmp_path / "fresh").exists()                      # refused before anything trained
    per_run.write_text(per_run.read_text()[:-40])                   # cut inside the last row
    assert main(["reproduce", "--suite", "suite.yaml", "--runs", "8gaussians/wgan-gp/seed0", "--work", "fresh"]) == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1 and "replication_runs.csv: line 2 is damaged" in error, error

"""The Snakemake pipeline: the default suite's jobs, schema validation, the slurm profile, and the tiny suite
end to end, interrupted and resumed without retraining finished runs."""

import csv
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from gpbench import ConfigError
from gpbench.data import get_dataset
from gpbench.metrics.features import INCEPTION_WEIGHTS_FILE
from gpbench.suite.pipeline import plan

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


@pytest.mark.parametrize("name", ["quick", "quick-figures", "paper", "tiny", "rehearsal"])
def test_every_shipped_suite_passes_the_schema_and_plans(name):
    import jsonschema

    suite = yaml.safe_load((REPO / f"configs/{name}.yaml").read_text())
    jsonschema.validate(suite, yaml.safe_load((REPO / "configs/schema.yaml").read_text()))
    runs = plan(suite, base=REPO)
    assert runs or "figure1" in suite
    if name == "quick":        # the seeds and controls the quick suite promises in its caption
        seeds = {(run.dataset, run.label): set() for run in runs}
        for run in runs:
            seeds[(run.dataset, run.label)].add(run.seed)
        assert all(len(seeds[(d, m)]) == 5 for d in ("8gaussians", "25gaussians", "swissroll")
                   for m in ("wgan-gp", "wgan-gp-rmsprop", "wgan-clip", "r3gan"))
        assert all(len(seeds[("mnist", m)]) == 3 for m in ("wgan-gp", "wgan-gp-rmsprop", "wgan-clip", "ns-gan", "r3gan"))
        flex = {label for dataset, label in seeds if label.startswith("wgan-gp-") and dataset == "8gaussians"}
        assert {"wgan-gp-none", "wgan-gp-flex1-inputs-lambda0.1", "wgan-gp-flex1-inputs-lambda1",
                "wgan-gp-wgan-gp-lambda1"} <= flex
        assert all(len(seeds[("8gaussians", f"wgan-gp-{key}")]) == 10      # the settings the flex answer hangs on
                   for key in ("none", "wgan-gp-lambda0.1", "flex1-inputs-lambda1"))
        assert "dirac" in suite


def test_a_lambda_grid_runs_its_variants_once_per_lambda_and_leaves_the_others_alone():
    suite = {"suite": "g", "seeds": [0], "flex": {"datasets": ["8gaussians"], "lambdas": {"wgan-gp": [0.1, 1, 10]},
                                                  "variants": {"none": {"kind": "none"}, "wgan-gp": {"kind": "wgan-gp"},
                                                               "lp": {"kind": "wgan-lp", "lambda": 3.0}}}}
    penalties = {run.variant: run.config["penalty"] for run in plan(suite)}
    assert penalties == {"none": {"kind": "none"}, "lp": {"kind": "wgan-lp", "lambda": 3.0},
                         "wgan-gp-lambda0.1": {"kind": "wgan-gp", "lambda": 0.1},
                         "wgan-gp-lambda1": {"kind": "wgan-gp", "lambda": 1},
                         "wgan-gp-lambda10": {"kind": "wgan-gp", "lambda": 10}}
    assert {run.config["name"] for run in plan(suite)} == {run.label for run in plan(suite)}   # one name per run
    for grid, message in (({"r1": [1.0]}, "'r1' is not a flex variant"), ({"lp": [1.0]}, "sets its own lambda"),
                          ({"none": [1.0]}, "sets its own lambda"), ({"wgan-gp": [-1]}, "expected numbers >= 0")):
        with pytest.raises(ConfigError, match=message):
            plan({**suite, "flex": {**suite["flex"], "lambdas": grid}})


def test_default_suite_plans_one_run_per_method_dataset_seed_and_flex_variant():
    paper = yaml.safe_load((REPO / "configs/paper.yaml").read_text())
    variants = yaml.safe_load((REPO / "configs/flex.yaml").read_text())["variants"]
    runs = plan(paper, base=REPO)
    replication = {(r.dataset, r.label, r.seed) for r in runs if r.group == "replication"}
    expected = {(d, m, s) for d in ("8gaussians", "25gaussians", "swissroll") for m in ("wgan-gp", "wgan-clip")
                for s in (0, 1, 2)}
    expected |= {("mnist", m, s) for m in ("wgan-gp", "wgan-clip", "ns-gan") for s in (0, 1, 2)}
    expected |= {("cifar10", m, s) for m in ("wgan-clip", "wgan-gp-rmsprop", "wgan-gp", "ns-gan") for s in (0, 1, 2)}
    expected |= {("cifar10", "wgan-gp-cifar10-resnet", s) for s in (0, 1, 2)}
    assert replication == expected
    flex = {(r.dataset, r.variant, r.seed) for r in runs if r.group == "flex"}
    assert flex == {(d, v, s) for d in ("25gaussians", "mnist", "cifar10") for v in variants for s in (0, 1, 2)}
    assert {"wgan-gp", "wgan-lp", "zero-gp", "r1"} <= set(variants)
    flex_settings = [v for v in variants.values() if v.get("kind") == "flex"]
    assert {str(v["flex"]) for v in flex_settings} == {"0.0", "1.0", "[0.0, 10.0]"}
    assert {v.get("wrt", "parameters") for v in flex_settings} == {"parameters", "inputs"}


def test_dry_run_of_the_default_config_lists_every_train_job():
    result = subprocess.run([*SNAKEMAKE, "-n"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    counts = job_counts(result.stdout)
    runs = plan(yaml.safe_load((REPO / "configs/paper.yaml").read_text()), base=REPO)
    figure4 = [run for run in runs if run.group == "figure4"]
    assert {(run.method, run.config["train_subset"]) for run in figure4} == {("wgan-gp", 1000), ("wgan-clip", 1000),
                                                                             ("ns-gan", 1000)}     # the Fig. 4a control
    evaluated = 42 + 108                 # replication (toys 18, MNIST 9, CIFAR-10 12, ResNet 3) and flex (3 x 12 x 3)
    # every run is evaluated, the Figure 4 runs too (Fig. 4a ranks their snapshots)
    assert counts["train"] == len(runs) == counts["eval"] == evaluated + len(figure4)
    for run in runs[:: 7]:
        assert f"runs/paper/{run.path}/train.done" in result.stdout
    assert counts["table"] == 2
    # longest first: every image train job outranks every toy train job; among them, more critic updates first
    priorities = {run: int(priority) for run, priority in
                  re.findall(r"rule train:.*?wildcards: run=(\S+)\n\s+priority: (\d+)", result.stdout, flags=re.S)}
    assert len(priorities) == len(runs)
    is_toy = {run: get_dataset(run.split("/")[0]).is_toy for run in priorities}
    assert min(p for run, p in priorities.items() if not is_toy[run]) > max(p for run, p in priorities.items()
                                                                            if is_toy[run])
    assert priorities["mnist/wgan-gp/seed0"] > priorities["mnist/ns-gan/seed0"]     # n_critic 5 against 1
    # ... and the jobs a train job waits on rank as high as it (Snakemake does not pass priorities upstream)
    assert dict(re.findall(r"rule run_config:.*?wildcards: run=(\S+)\n\s+priority: (\d+)", result.stdout,
                           flags=re.S)) == {run: str(p) for run, p in priorities.items()}
    data = dict(re.findall(r"rule data:.*?wildcards: dataset=(\S+)\n\s+priority: (\d+)", result.stdout, flags=re.S))
    assert int(data["mnist"]) == max(p for run, p in priorities.items() if run.startswith("mnist/"))
    # CIFAR-10's Inception metrics read weights that a local rule fetches into the data root (cluster jobs never
    # download); MNIST's LeNet metrics neither wait for them nor are given them
    weights = f"data/{INCEPTION_WEIGHTS_FILE}"
    if not (REPO / weights).exists():
        assert counts["inception_weights"] == 1 and f"gpbench inception-weights --out {weights}" in result.stdout
    prepare = dict(re.findall(r"Shell command: gpbench prepare-metrics (\w+) (.*)", result.stdout))
    assert f"--inception-weights {weights}" in prepare["cifar10"] and "--inception-weights" not in prepare["mnist"]
    local_rules = re.search(r"^localrules:(.*?)\n\S", (REPO / "workflow/rules/common.smk").read_text(), re.M | re.S)
    assert {"data", "inception_weights"} <= set(re.findall(r"\w+", local_rules.group(1)))


def test_slurm_profile_parses():
    pytest.importorskip("snakemake_executor_plugin_slurm")
    result = subprocess.run([*SNAKEMAKE, "-n", "--profile", "profiles/slurm", "--configfile", "configs/tiny.yaml"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert job_counts(result.stdout)["train"] == 8          # 5 runs of the tables, 3 of Figure 4 (one the control)


def test_a_typo_in_the_suite_config_stops_before_any_job(tmp_path):
    bad = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    bad["seed"] = bad.pop("seeds")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    result = subprocess.run([*SNAKEMAKE, "-n", "--configfile", str(tmp_path / "bad.yaml")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "seeds" in result.stdout + result.stderr and not (tmp_path / "runs").exists()


def test_a_bad_run_override_is_named_with_its_run():
    suite = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    suite["replication"][0]["overrides"]["lr"] = -1
    with pytest.raises(ConfigError, match=r"run 8gaussians/wgan-gp/seed0: lr"):
        plan(suite)


def test_a_suite_metric_that_does_not_fit_its_dataset_stops_before_any_job(tmp_path):
    suite = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    suite["eval"] = {**suite.get("eval", {}), "metrics": {"8gaussians": ["modes", "fid"]}}
    with pytest.raises(ConfigError, match=r"eval.metrics.8gaussians: 'fid' does not apply to 8gaussians; allowed: "
                                          r"modes, emd, swd"):
        plan(suite)
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    result = subprocess.run([*SNAKEMAKE, "-n", "--configfile", str(tmp_path / "suite.yaml")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: eval.metrics.8gaussians")


@pytest.mark.slow
def test_tiny_suite_end_to_end_interrupted_and_resumed(tiny_suite):
    assert tiny_suite.finished_before_interrupt, "no training run finished"
    result = tiny_suite.resumed
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert tiny_suite.checkpoint.stat().st_mtime_ns == tiny_suite.trained_at      # the finished run was not retrained
    tmp_path, command = tiny_suite.folder, tiny_suite.command

    tables = tmp_path / "results" / "tiny" / "tables"
    with open(tables / "replication.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(row["dataset"], row["method"]) for row in rows} == {
        ("8gaussians", "wgan-gp"), ("8gaussians", "wgan-clip"), ("mnist", "wgan-gp")}
    assert {row["metric"] for row in rows if row["dataset"] == "mnist"} == {"fid_lenet", "is_lenet"}
    assert all(row["mean"] for row in rows)
    markdown = (tables / "replication.md").read_text()
    assert "tiny smoke suite" in markdown and "| wgan-clip" in markdown
    assert r"\toprule" in (tables / "replication.tex").read_text()
    with open(tables / "replication_runs.csv") as handle:
        per_run = list(csv.DictReader(handle))
    assert len(per_run) == 3 and {row["counted"] for row in per_run} <= {"yes", "no: collapsed"}   # one seed
    flex = (tables / "flex.md").read_text()
    assert "flex1-params" in flex and "wgan-lp" in flex and "s / 1k it (engine)" in flex and " (eager) " in flex
    plots = tmp_path / "results" / "tiny" / "plots"
    for name in ("figure3_8gaussians.png", "curves_mnist.png", "flex_figure3_8gaussians.png",
                 "samples/mnist_wgan-gp_seed0.png", "figure4_overfitting.png", "figure1_gradient_norms.png"):
        assert (plots / name).stat().st_size > 1000, name
    claims = (tables / "claims.md").read_text()
    assert "gradients explode" in claims and "wgan-gp-subset64 on 64 mnist images" in claims

    again = subprocess.run([*command, "-n"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr

    report = tmp_path / "results" / "tiny" / "report.html"           # one page gathering every output
    built = subprocess.run([*command, "--report", str(report)], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    page = report.read_text()
    for name in ("replication.html", "claims.html", "figure4_overfitting.png", "mnist_wgan-gp_seed0.png",
                 "health.html", "1. Tables", "7. Samples"):
        assert name in page, name


def test_a_reports_intro_and_categories_follow_the_suites_own_sections():
    import jinja2

    from gpbench.suite.pipeline import report_categories

    flex_only = {"suite": "mine", "seeds": [0], "flex": {"datasets": ["8gaussians"], "variants": {"r1": {"kind": "r1"}}}}
    assert report_categories(flex_only, plan(flex_only)) == ["Tables", "Figure 3", "Training curves", "Samples",
                                                             "Health"]                  # numbered 1-5, no gaps
    tiny = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    assert report_categories(tiny, plan(tiny))[6] == "Samples"         # "7. Samples", as the tiny report shows
    figures = yaml.safe_load((REPO / "configs/quick-figures.yaml").read_text())
    assert report_categories(figures, plan(figures, base=REPO)) == ["Claims", "Figure 1", "Figure 4", "Samples",
                                                                    "Health"]          # no table of its own

    intro = jinja2.Template((REPO / "workflow/report/workflow.rst").read_text())
    mine = intro.render(snakemake=types.SimpleNamespace(config=flex_only))
    assert mine.startswith("gpbench suite **mine**: a sweep of gradient-penalty variants")
    assert "Gulrajani" not in mine and "runs/mine/" in mine                # no replication it does not run
    assert "a replication of Gulrajani et al. 2017" in intro.render(snakemake=types.SimpleNamespace(config=tiny))


def test_key_flex_variants_get_their_own_seeds_and_an_unknown_one_is_refused():
    from gpbench.errors import ConfigError
    from gpbench.suite.pipeline import plan

    flex = {"datasets": ["8gaussians"], "seeds": [0], "key_seeds": [0, 1, 2],
            "variants": {"none": {"kind": "none"}, "r1": {"kind": "r1"}}, "lambdas": {"r1": [0.1, 1]},
            "key_variants": ["none", "r1-lambda0.1"], "overrides": {"8gaussians": {"iterations": 2}}}
    runs = plan({"suite": "key", "seeds": [7], "flex": flex})
    assert sorted(run.path for run in runs) == sorted([
        "8gaussians/wgan-gp-none/seed0", "8gaussians/wgan-gp-none/seed1", "8gaussians/wgan-gp-none/seed2",
        "8gaussians/wgan-gp-r1-lambda0.1/seed0", "8gaussians/wgan-gp-r1-lambda0.1/seed1",
        "8gaussians/wgan-gp-r1-lambda0.1/seed2", "8gaussians/wgan-gp-r1-lambda1/seed0"])
    with pytest.raises(ConfigError, match="flex.key_variants: 'r1' is not one of the suite's variants"):
        plan({"suite": "key", "seeds": [7], "flex": {**flex, "key_variants": ["r1"]}})


def test_the_ten_line_suite_in_the_docs_passes_the_schema_and_plans_its_twelve_runs(tmp_path):
    """docs/suites.md, "Your own suite in ten lines": what it promises is what the pipeline plans."""
    import jsonschema

    text = (REPO / "docs/suites.md").read_text().split("## Your own suite in ten lines")[1]
    suite = yaml.safe_load(text.split("```yaml\n")[1].split("```")[0])
    assert len(text.split("```yaml\n")[1].split("```")[0].strip().splitlines()) <= 10
    jsonschema.validate(suite, yaml.safe_load((REPO / "configs/schema.yaml").read_text()))
    runs = plan(suite, base=REPO)
    assert len(runs) == 12 and {run.label for run in runs} == {"wgan-gp", "wgan-clip", "wgan-gp-none", "wgan-gp-r1"}

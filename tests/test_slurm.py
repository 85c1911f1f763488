"""The SLURM profile: per-run resources in a dry run, and the tiny suite run for real through a one-node SLURM
cluster on this machine (scripts/slurm-one-node.sh), with the same tables as the local executor."""

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpbench.data import get_dataset
from gpbench.training.config import resolve
from gpbench.suite.costfile import signature
from gpbench.suite.pipeline import cluster_has_gpus, run_minutes

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
PROFILE = ["--profile", str(REPO / "profiles/slurm"), "--slurm-status-command", "squeue"]


def job_resources(dry_run: str, rule: str) -> dict[str, dict[str, str]]:
    """{output: {resource: value}} of every job of ``rule`` in a dry run's printout."""
    jobs, current = {}, None
    for line in dry_run.splitlines():
        if re.match(r"^(local)?rule \w+:", line):
            current = line.split()[-1].rstrip(":") if "rule" in line else None
            output = None
        elif current == rule and line.strip().startswith("output:"):
            output = line.split("output:")[1].strip()
        elif current == rule and line.strip().startswith("resources:") and output:
            jobs[output] = dict(item.split("=", 1) for item in line.split("resources:")[1].strip().split(", "))
    return jobs


@pytest.mark.slow
def test_the_dry_run_asks_no_gpu_for_toy_runs_and_one_for_image_runs():
    pytest.importorskip("snakemake_executor_plugin_slurm")
    result = subprocess.run([*SNAKEMAKE, "-n", *PROFILE], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for rule in ("train", "eval"):
        jobs = job_resources(result.stdout, rule)
        assert len(jobs) > 100, rule
        for output, resources in jobs.items():
            dataset = output.split("/")[2]
            wants = get_dataset(dataset).wants_gpu and cluster_has_gpus()
            assert resources["gpu"] == str(int(wants)), output
            if not wants:
                assert resources["gpu_model"] == "", output
            assert int(resources["runtime"]) >= 15 and int(resources["mem_mb"]) >= 4000


def test_a_jobs_time_limit_is_its_projected_time_with_a_margin():
    config = {"method": "wgan-gp", "dataset": "mnist", "iterations": 1000, "dev_every": 100}
    measured = {signature(resolve(config)): {"seconds_per_iteration": 1.0, "dev_seconds": 6.0, "device": "CPU"}}
    assert run_minutes(config, measured) == 27 + 15           # 1.5 x (1,000 x 1 s + 10 dev evaluations x 6 s)
    assert run_minutes(config, {}) == 2 + 15                  # assumed 0.05 s per MNIST iteration: 1.5 x 50 s


def rows(path: Path, drop=("seconds_per_1k_iterations",)) -> list[dict]:
    with open(path) as handle:
        return [{key: value for key, value in row.items() if key not in drop} for row in csv.DictReader(handle)]


SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def one_node_script(action: str, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "scripts/slurm-one-node.sh"), action, str(state)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def slurm_installed():
    if shutil.which("slurmctld") is None or shutil.which("munged") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's slurm-wlm and munge (.ci/run installs them)")
    if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
        pytest.skip("this machine has a SLURM configuration of its own")


@pytest.fixture
def one_node_cluster(tmp_path, slurm_installed):
    state = tmp_path / "slurm"
    started = one_node_script("start", state)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield state
    finally:
        one_node_script("stop", state)


def test_the_cluster_script_replaces_the_link_a_killed_run_left_and_keeps_a_foreign_one(tmp_path, slurm_installed):
    killed = tmp_path / "killed-run"                       # a run killed before `stop` left its link
    killed.mkdir()
    (killed / "slurm.conf").write_text("ClusterName=gpbench\nSlurmctldPort=6817\n")
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_CONF.unlink(missing_ok=True)
    SYSTEM_CONF.symlink_to(killed / "slurm.conf")
    state = tmp_path / "slurm"
    started = one_node_script("start", state)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert os.readlink(SYSTEM_CONF) == str(state / "slurm.conf")
    finally:
        one_node_script("stop", state)
    assert not SYSTEM_CONF.is_symlink()

    foreign = tmp_path / "site.conf"                       # a link to a configuration that is not gpbench's
    foreign.write_text("ClusterName=site\n")
    SYSTEM_CONF.symlink_to(foreign)
    try:
        refused = one_node_script("start", state)
        assert refused.returncode == 2 and "has a SLURM of its own" in refused.stderr, refused.stderr
        assert os.readlink(SYSTEM_CONF) == str(foreign)
    finally:
        SYSTEM_CONF.unlink()


@pytest.mark.slow
def test_the_tiny_suite_runs_through_the_slurm_profile_like_the_local_executor(tmp_path, one_node_cluster, tiny_suite):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    tiny = ["--configfile", str(REPO / "configs/tiny.yaml")]
    (tmp_path / "slurm-run").mkdir()
    through_slurm = subprocess.run([*SNAKEMAKE, *PROFILE, *tiny], cwd=tmp_path / "slurm-run", capture_output=True,
                                   text=True, timeout=1800)
    assert through_slurm.returncode == 0, through_slurm.stdout[-3000:] + through_slurm.stderr[-3000:]
    printed = through_slurm.stdout + through_slurm.stderr
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S+/slurm_logs/rule_(\w+)/", printed)
    per_rule = {rule: sum(1 for _, name in submitted if name == rule) for _, rule in submitted}
    assert per_rule == {"train": 8, "eval": 8, "prepare_metrics": 1, "figure1": 1}, per_rule   # Figure 4 runs evaluated
    controller = (one_node_cluster / "slurmctld.log").read_text()
    for job, _ in submitted:                                  # every job ran and ended well under SLURM
        assert re.search(rf"_job_complete: JobId={job} WEXITSTATUS 0", controller), job
    for rule in ("table", "plots", "health", "diagnose", "run_config", "sample_picture", "claims"):   # stay local
        assert f"localrule {rule}:" in printed, rule

    assert tiny_suite.resumed.returncode == 0                 # the local run (interrupted and resumed: conftest.py)
    for table in ("replication.csv", "flex.csv", "claims.csv", "health.csv"):
        slurm_rows = rows(tmp_path / "slurm-run" / "results" / "tiny" / "tables" / table)
        local_rows = rows(tiny_suite.folder / "results" / "tiny" / "tables" / table)
        assert slurm_rows == local_rows, table

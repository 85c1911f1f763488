"""Provenance of the committed results: each results/<suite>/ holds exactly what its suite's current run produces
(derived from the Snakefile and the suite config by a forced dry run, not from a hand list) plus the named hand-made
files; the Snakemake report embeds the committed files byte for byte; the committed cost files cost today's suite
or say which settings changed since they were measured."""

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gpbench.suite.cost import suite_staleness

REPO = Path(__file__).resolve().parents[1]
# Files a person makes beside a suite's run, by name: the Snakemake report (`snakemake --report`, rebuilt from the
# committed files at every regeneration) and `gpbench reproduce`'s page.
HAND_MADE = {"report.html", "reproducibility.md"}


def committed(folder: str) -> set[str]:
    listed = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True)
    return {line for line in listed.stdout.splitlines() if line}


def suite_configs() -> dict[str, str]:
    """Suite name -> its config file, for every shipped suite."""
    return {yaml.safe_load(path.read_text())["suite"]: str(path.relative_to(REPO))
            for path in sorted((REPO / "configs").glob("*.yaml")) if path.name not in ("schema.yaml", "flex.yaml")}


def planned_outputs(config: str, results: str) -> set[str]:
    """Every output and log file under ``results`` of a forced dry run of the whole suite."""
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "-F", "--nolock",
                          "--configfile", config], cwd=REPO, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    paths = {path for kind, listed in re.findall(r"^\s+(output|log): (.+)$", dry.stdout, flags=re.M)
             for path in listed.split(", ")}
    return {path for path in paths if path.startswith(results + "/")}


NOT_SUITES = {"bench", "dirac"}        # results/bench: cost files (below); results/dirac: `gpbench dirac`'s output
COMMITTED_SUITES = sorted({path.split("/")[1] for path in committed("results")} - NOT_SUITES)


def test_every_committed_results_folder_belongs_to_a_shipped_suite():
    assert COMMITTED_SUITES and set(COMMITTED_SUITES) <= set(suite_configs())


@pytest.mark.parametrize("suite", COMMITTED_SUITES)
def test_a_committed_results_folder_is_exactly_its_suites_outputs(suite):
    results = f"results/{suite}"
    expected = planned_outputs(suite_configs()[suite], results)
    have = committed(results)
    hand_made = {path for path in have if path.removeprefix(results + "/") in HAND_MADE}
    extra, missing = sorted(have - expected - hand_made), sorted(expected - have)
    assert not extra, f"{len(extra)} committed files no rule of {suite} makes, e.g. {extra[:5]}"
    assert not missing, f"{len(missing)} outputs of {suite} not committed, e.g. {missing[:5]}"


def test_no_stray_files_at_the_repository_root():
    root = {path for path in committed(".") if "/" not in path}
    assert not {path for path in root if path.endswith((".log", ".yaml", ".json", ".pt"))}, root


@pytest.mark.parametrize("report", sorted(path for path in committed("results") if path.endswith("/report.html")))
def test_a_committed_report_embeds_the_committed_files_byte_for_byte(report):
    """Snakemake's report holds each report() output as a base64 data URI keyed by its path: every one equals the
    committed file, and every committed table page and plot of the suite is in it."""
    text = (REPO / report).read_text()
    entry = r'"(results/[^"]+)": \{"name": (?:[^{}]|\{[^{}]*\})*?"data_uri": "data:[^,"]*;base64,([A-Za-z0-9+/=]+)"'
    embedded = dict(re.findall(entry, text))
    folder = report.removesuffix("/report.html")
    shown = {path for path in committed(folder)                 # every plot and page (tables, dirac) but the report
             if path.endswith(".png") or (path.endswith(".html") and path != report)}
    assert set(embedded) == shown, sorted(set(embedded) ^ shown)[:5]
    stale = [path for path, data in embedded.items() if base64.b64decode(data) != (REPO / path).read_bytes()]
    assert not stale, f"{len(stale)} files in {report} differ from the committed ones, e.g. {stale[:3]}"


@pytest.mark.parametrize("cost_file", sorted(path for path in committed("results/bench")
                                             if re.search(r"/suite_cost[^/]*\.json$", path)))
def test_a_committed_cost_file_costs_todays_suite_or_says_what_changed(cost_file):
    """The cost file's settings equal today's suite's; where they do not, its Markdown table carries the staleness
    label naming every changed setting (and the README quotes it as such)."""
    measured = json.loads((REPO / cost_file).read_text())
    markdown = REPO / re.sub(r"suite_cost_cpu\.json$", "suite_cost.md", cost_file).replace(".json", ".md")
    label = suite_staleness(measured, ["configs/paper.yaml"], base=REPO)
    assert label is None or label in markdown.read_text(), f"{markdown.name} lacks the line: {label}"


@pytest.mark.slow
def test_the_committed_dirac_certificate_is_what_gpbench_dirac_writes(tmp_path):
    """results/dirac/ holds `gpbench dirac --out results/dirac` of today's code: its table, byte for byte."""
    import torch

    from gpbench.cli import main

    threads = torch.get_num_threads()
    try:
        assert main(["dirac", "--out", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert committed("results/dirac") == {f"results/dirac/dirac.{ext}" for ext in ("md", "html", "csv", "png")}
    for name in ("dirac.md", "dirac.html", "dirac.csv"):
        assert (tmp_path / name).read_text() == (REPO / "results/dirac" / name).read_text(), name

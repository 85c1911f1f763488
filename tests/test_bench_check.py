"""benchmarks/check.py: bounds on paired ratios, the cost table, and a deliberately slowed penalty failing."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import check  # noqa: E402


def bench(name, ratio, bound=None, group="overhead", **info):
    extra = {"ratio": ratio, "reference_median_s": 0.1, **info}
    if bound is not None:
        extra["bound"] = bound
    return {"name": name, "group": group, "stats": {"median": 0.1 * ratio}, "extra_info": extra}


def test_violations_respect_each_bound():
    benchmarks = [bench("step", 1.04, 1.05), bench("iteration", 1.06, 1.05), bench("fid", 1.01, 1.0),
                  bench("cost", 2.5)]
    assert [line.split(":")[0] for line in check.violations(benchmarks)] == ["iteration", "fid"]


def test_cost_table_lists_each_penalty_with_its_ratio(tmp_path):
    report = {"machine_info": {"cpu": {"count": 2}}, "benchmarks": [
        bench("a", 2.1, group="penalty cost", arch="mnist", batch=50, penalty="wgan-gp"),
        bench("b", 1.2, group="penalty cost", arch="mnist", batch=50, penalty="r1")]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(report))
    assert check.main([str(path), "--cost-table", str(tmp_path / "cost.md")]) == 0
    table = (tmp_path / "cost.md").read_text()
    assert "| mnist (50) | r1 | 120.0 | 100.0 | 1.20 |" in table
    assert table.index("| r1 |") < table.index("| wgan-gp |")


def test_a_deliberately_slowed_penalty_fails_the_check(tmp_path):
    report = tmp_path / "bench.json"
    environment = {**os.environ, "GPBENCH_BENCH_SLOWER_PENALTY": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "benchmarks/bench_overhead.py::test_wgan_gp_critic_step_vs_textbook[mnist-50-shape0]",
                          "--benchmark-only", f"--benchmark-json={report}"],
                         cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:]
    ratio = json.loads(report.read_text())["benchmarks"][0]["extra_info"]["ratio"]
    assert ratio > 1.2                                    # the penalty done twice: about +50 %
    assert check.main([str(report)]) == 1

"""benchmarks/check.py: bounds on paired ratios, the cost table, and a deliberately slowed penalty failing."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import check  # noqa: E402
import pairing  # noqa: E402
from pairing import median_interval  # noqa: E402


def bench(name, ratio, bound=None, group="overhead", **info):
    """A pytest-benchmark JSON entry; ``info`` may add ``ratio_low`` / ``ratio_high``."""
    extra = {"ratio": ratio, "reference_median_s": 0.1, **info}
    if bound is not None:
        extra["bound"] = bound
    return {"name": name, "group": group, "stats": {"median": 0.1 * ratio}, "extra_info": extra}


def test_violations_respect_each_bound():
    benchmarks = [bench("step", 1.04, 1.05), bench("iteration", 1.06, 1.05), bench("fid", 1.01, 1.0),
                  bench("cost", 2.5)]
    assert [line.split(":")[0] for line in check.violations(benchmarks)] == ["iteration", "fid"]


def test_a_median_over_the_bound_fails_only_when_the_interval_is_above_one():
    benchmarks = [bench("noisy", 1.06, 1.05, ratio_low=0.98, ratio_high=1.12),
                  bench("slower", 1.06, 1.05, ratio_low=1.01, ratio_high=1.10),
                  bench("fast", 1.03, 1.05, ratio_low=1.01, ratio_high=1.05)]
    assert [line.split(":")[0] for line in check.violations(benchmarks)] == ["slower"]
    assert [line.split(":")[0] for line in check.within_noise(benchmarks)] == ["noisy"]
    assert "1.060 (95 % CI 1.010-1.100) > bound 1.05" in check.violations(benchmarks)[0]


def test_median_interval_is_the_binomial_order_statistic_interval():
    # n = 15: P(Bin(15, 1/2) <= 3) = 0.018 <= 0.025 < P(<= 4) = 0.059, so the 4th and 12th smallest values
    assert median_interval(list(range(15, 0, -1))) == (4, 12)
    # n = 21: P(<= 5) = 0.013 <= 0.025 < P(<= 6) = 0.039: the 6th and 16th
    assert median_interval([float(v) for v in range(1, 22)]) == (6.0, 16.0)
    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)                # too few values: the whole range


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


@pytest.mark.slow
def test_a_deliberately_slowed_penalty_fails_the_check(tmp_path):
    report = tmp_path / "bench.json"
    environment = {**os.environ, "GPBENCH_BENCH_SLOWER_PENALTY": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "benchmarks/bench_overhead.py", "-k", "critic_step and mnist",
                          "--benchmark-only", f"--benchmark-json={report}"],
                         cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:]
    info = json.loads(report.read_text())["benchmarks"][0]["extra_info"]
    assert info["ratio"] > 1.2 and info["ratio_low"] > 1.0   # the penalty done twice: about +50 %, beyond noise
    assert check.main([str(report)]) == 1


class FakeBenchmark:
    """pytest-benchmark's pedantic mode, with the candidate's round times given instead of measured."""

    disabled = False

    def __init__(self, candidate_seconds):
        self.candidate_seconds, self.extra_info = list(candidate_seconds), {}
        self.stats = SimpleNamespace(stats=SimpleNamespace(data=[]))

    def pedantic(self, target, setup, rounds, warmup_rounds):
        for index in range(warmup_rounds + rounds):
            setup()
            target()
            if index >= warmup_rounds:
                self.stats.stats.data.append(self.candidate_seconds[index])


def test_pairing_divides_each_round_by_the_references_around_it(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(pairing.time, "perf_counter", lambda: clock[0])
    reference_seconds = iter([9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])      # one warm-up, then a steady drift

    def reference():
        clock[0] += next(reference_seconds)

    benchmark = FakeBenchmark([0.1, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5 * 1.1])
    pairing.paired(benchmark, lambda: None, reference, rounds=6, warmup_rounds=1)
    assert benchmark.extra_info["round_ratios"] == pytest.approx([1, 1, 1, 1, 1, 1.1])
    assert benchmark.extra_info["ratio"] == pytest.approx(1.0)
    assert benchmark.extra_info["reference_median_s"] == 4.0
    assert (benchmark.extra_info["ratio_low"], benchmark.extra_info["ratio_high"]) == pytest.approx((1.0, 1.1))

"""The performance gate: check.py's verdicts and files, gate.py's options, the textbook references against
gpbench's nets and penalties, and a deliberately slowed kind failing the gate."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import check  # noqa: E402
import pairing  # noqa: E402
from pairing import median_interval  # noqa: E402


def bench(name, ratio, bound=None, group="gate", gate=None, **info):
    """A pytest-benchmark JSON entry; ``info`` may add ``ratio_low`` / ``ratio_high``."""
    extra = {"ratio": ratio, "reference_median_s": 0.1, **info}
    if gate is not None:
        extra["gate"] = gate
    if bound is not None:
        extra["bound"] = bound
    return {"name": name, "group": group, "stats": {"median": 0.1 * ratio}, "extra_info": extra}


def write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_an_entry_fails_only_when_its_whole_interval_lies_above_baseline_times_bound():
    ratios = check.gate_ratios({"benchmarks": [
        bench("a", 1.30, gate="critic step: r1", ratio_low=1.20, ratio_high=1.35),         # 1.20 > 1.0 x 1.1
        bench("b", 1.30, gate="critic step: wgan-gp", ratio_low=1.05, ratio_high=1.40),    # noisy: reaches below
        bench("c", 2.10, gate="critic step: flex-inputs", ratio_low=2.05, ratio_high=2.20),  # its baseline is 2
        bench("d", 1.00, gate="critic step: new-kind", ratio_low=0.98, ratio_high=1.02),
        bench("e", 2.00, group="penalty cost")]})                                          # not a gate entry
    baseline = {"critic step: r1": 1.0, "critic step: wgan-gp": 1.0, "critic step: flex-inputs": 2.0}
    lines = check.regressions(ratios, baseline, 1.10, "baseline.json")
    assert [line.split(": gpbench")[0].split(": no baseline")[0] for line in lines] == [
        "critic step: r1", "critic step: new-kind"]
    assert lines[0] == ("critic step: r1: gpbench/reference = 1.300 (95 % CI 1.200-1.350), above its baseline "
                        "1.000 x bound 1.10 = 1.100")
    assert "no baseline ratio in baseline.json; record one with python benchmarks/gate.py --record-baseline" in lines[1]


def test_an_absolute_bound_fails_when_the_median_exceeds_it_and_the_interval_lies_above_one():
    report = {"benchmarks": [bench("fid", 1.06, 1.0, gate="FID", ratio_low=1.01, ratio_high=1.10),
                             bench("fid-noisy", 1.06, 1.0, ratio_low=0.98, ratio_high=1.12),
                             bench("fid-fast", 0.83, 1.0, ratio_low=0.80, ratio_high=0.86)]}
    assert check.absolute_violations(report) == ["FID: gpbench/reference = 1.060 (95 % CI 1.010-1.100) > bound 1.0"]


def test_a_recorded_baseline_passes_its_own_run_and_fails_a_slower_one(tmp_path, capsys):
    run = write(tmp_path / "run.json", {"machine_info": {"cpu": {"count": 2}}, "commit_info": {"id": "abc"},
                                        "benchmarks": [bench("a", 1.02, gate="critic step: r1", ratio_low=0.99,
                                                             ratio_high=1.05)]})
    baseline = tmp_path / "baseline.json"
    assert check.main([str(run), "--record-baseline", str(baseline)]) == 0
    recorded = json.loads(baseline.read_text())
    assert recorded["bound"] == 1.10 and recorded["recorded"]["commit"] == "abc"
    assert recorded["ratios"] == {"critic step: r1": {"ratio": 1.02, "low": 0.99, "high": 1.05}}
    assert check.main([str(run), "--against", str(baseline)]) == 0
    slower = write(tmp_path / "slower.json", {"benchmarks": [
        bench("a", 1.30, gate="critic step: r1", ratio_low=1.25, ratio_high=1.36)]})
    assert check.main([str(slower), "--against", str(baseline)]) == 1
    assert "PERFORMANCE REGRESSION: critic step: r1: gpbench/reference = 1.300" in capsys.readouterr().err
    # another run's report serves as the baseline too (two commits compared)
    assert check.main([str(slower), "--against", str(run)]) == 1
    assert check.main([str(run), "--against", str(slower)]) == 0


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not a readable JSON file"),
    ("[1, 2]", "expected a JSON object"),
    ('{"machine_info": {}}', "no 'benchmarks' list"),
])
def test_a_bad_report_ends_in_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bench.json"
    if content is not None:
        path.write_text(content)
    assert check.main([str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {path}") and message in error and "\n" not in error


@pytest.mark.parametrize("baseline, message", [
    ({"bound": 1.1}, "expected 'ratios'"),
    ({"bound": 1.1, "ratios": {"x": {"low": 1}}}, "expected 'ratios'"),
    ({"bound": 1.1, "ratios": {"x": 1.0}}, "expected 'ratios'"),
    ({"bound": 3, "ratios": {"x": {"ratio": 1.0}}}, "'bound' must be a number between 1 and 2"),
])
def test_a_bad_baseline_ends_in_one_line_and_exit_2(tmp_path, capsys, baseline, message):
    run = write(tmp_path / "run.json", {"benchmarks": [bench("a", 1.0, gate="x")]})
    assert check.main([str(run), "--against", str(write(tmp_path / "baseline.json", baseline))]) == 2
    assert message in capsys.readouterr().err


def test_the_committed_baseline_covers_every_gate_entry():
    import bench_gate
    baseline, bound, recorded = check.read_baseline(check.BASELINE)
    entries = {f"critic step: {entry}" for entry in bench_gate.ENTRIES} | {
        f"training iteration: {arch}" for arch in bench_gate.ITERATIONS} | {"FID 5000 x 2048 vs torch-fidelity"}
    assert set(baseline) == entries and 1.0 < bound < 2.0 and recorded


def test_every_registered_kind_and_game_has_a_gate_entry_with_a_textbook_reference():
    import bench_gate
    import textbook
    from gpbench.penalties import REGISTRY
    from gpbench.training.losses import GAMES
    entries = bench_gate.critic_step_entries()
    for kind in REGISTRY:
        assert any(spec["penalty"]["kind"] == kind for spec in entries.values()), kind
    for game in GAMES:
        assert any(spec.get("game", "wgan") == game for spec in entries.values()), game
    for entry, spec in entries.items():
        assert spec["textbook"].get("penalty", "none") in textbook.PENALTIES, entry
        assert spec["textbook"].get("game", "wgan") in textbook.GAMES, entry


@pytest.mark.parametrize("arch, dim, channels, batchnorm", [("mnist", 16, 1, False), ("cifar10", 16, 3, True)])
def test_the_textbook_nets_have_gpbench_nets_parameter_shapes(arch, dim, channels, batchnorm):
    import textbook
    from gpbench.models import build
    generator, critic = build(arch, dim=dim, generator_batchnorm=batchnorm)
    shapes = [[tuple(p.shape) for p in net.parameters()] for net in (generator, critic)]
    assert shapes == [[tuple(p.shape) for p in net.parameters()]
                      for net in (textbook.image_generator(dim, channels, batchnorm), textbook.image_critic(dim, channels))]
    noise = torch.randn(3, textbook.NOISE)
    assert textbook.image_generator(dim, channels, batchnorm)(noise).shape == generator(noise).shape
    toy_generator, toy_critic = build("toy", dim=32)
    assert [tuple(p.shape) for p in toy_generator.parameters()] + [tuple(p.shape) for p in toy_critic.parameters()] == [
        tuple(p.shape) for net in textbook.toy_nets(32) for p in net.parameters()]


def test_textbook_penalties_equal_gpbench_s_on_the_same_critic():
    """The references do the same arithmetic: same value on the same points (the random draws seeded alike)."""
    import textbook
    from gpbench.penalties import build_penalty
    torch.manual_seed(0)
    critic = textbook.image_critic(4, 1).double()
    with torch.no_grad():
        critic[-2].weight.mul_(1000)          # gradients beyond flex's margin of 1, so its relu is not all zero
    real, fake = torch.rand(6, 1, 28, 28, dtype=torch.float64), torch.rand(6, 1, 28, 28, dtype=torch.float64)
    import bench_gate
    for entry, spec in bench_gate.ENTRIES.items():
        name = spec["textbook"].get("penalty", "none")
        if name in ("none",) or spec["penalty"].get("every", 1) > 1:
            continue
        penalty = build_penalty(spec["penalty"])
        torch.manual_seed(1)
        ours_real, ours_fake = penalty.prepare(real.clone(), fake.clone(), step=0)
        ours = penalty(critic, ours_real, ours_fake, real_scores=critic(ours_real), fake_scores=critic(ours_fake))
        torch.manual_seed(1)
        theirs_real = real.clone().requires_grad_("real" in textbook.ON_SCORES.get(name, ()))
        theirs_fake = fake.clone().requires_grad_("fake" in textbook.ON_SCORES.get(name, ()))
        theirs = textbook.PENALTIES[name](critic, theirs_real, theirs_fake, critic(theirs_real), critic(theirs_fake))
        assert float(ours.detach()) == pytest.approx(float(theirs.detach()), rel=1e-9), entry
        assert float(ours.detach()) > 1e-3, entry


@pytest.mark.parametrize("option, message", [
    (["--compare", "never-saved"], "--compare never-saved: no saved run of that name"),
    (["--against", "no-such-commit"], "--against no-such-commit: not a commit git can check out here"),
])
def test_gate_options_naming_nothing_end_in_one_line_and_exit_2(option, message):
    run = subprocess.run([sys.executable, "benchmarks/gate.py", *option], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and run.stderr.strip().startswith(f"error: {message}"), run.stderr[-1000:]
    assert len(run.stderr.strip().splitlines()) == 1


SLOWED_R1 = """
_r1_term = R1.term


def _r1_term_four_times(self, *args):      # injected by tests/test_bench_check.py: three wasted double backwards
    for _ in range(3):
        _r1_term(self, *args)
    return _r1_term(self, *args)


R1.term = _r1_term_four_times
"""


@pytest.mark.slow
def test_a_slowed_kind_fails_the_gate_naming_that_kind(tmp_path):
    """A copy of gpbench whose R1 computes its gradient four times (each time about +10 % of the step): the gate
    fails on R1 and not on WGAN-GP (control)."""
    copy = tmp_path / "repo"
    for name in ("gpbench", "benchmarks"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy2(REPO / name, copy / name)
    with (copy / "gpbench/penalties/kinds.py").open("a") as kinds:
        kinds.write(SLOWED_R1)
    run = subprocess.run([sys.executable, "benchmarks/gate.py", "-k", "test_critic_step and (r1 or wgan-gp) and not r1r2 and not lazy"],
                         cwd=copy, capture_output=True, text=True, timeout=900)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    failures = [line for line in run.stderr.splitlines() if line.startswith("PERFORMANCE REGRESSION")]
    assert [line.split(": gpbench")[0] for line in failures] == ["PERFORMANCE REGRESSION: critic step: r1"], failures


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

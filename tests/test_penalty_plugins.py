"""A penalty kind defined outside gpbench: registered from the user's module, trained from a suite's run config in a
fresh process, checked by `gpbench check-penalty`; broken kinds fail the checks, bad modules stop in one line."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gpbench.cli import main
from gpbench.errors import ConfigError
from gpbench.penalties import build, plugins

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples/absolute_gp.py"


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test registers into its own copy of the registry and imports its modules afresh."""
    monkeypatch.setattr(build, "REGISTRY", dict(build.REGISTRY))
    monkeypatch.setattr(plugins, "_LOADED", {})


def write_kind(tmp_path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


BROKEN_AXIS = """
    from gpbench.penalties import Penalty, register_penalty
    from gpbench.penalties.gradients import input_gradient, interpolate


    @register_penalty
    class WrongAxisGP(Penalty):
        kind = "wrong-axis-gp"
        default_lambda = 10.0

        def term(self, critic, real, fake, generator, values, real_scores, fake_scores):
            gradient = input_gradient(critic, interpolate(real, fake).detach()).flatten(1)
            norms = gradient.norm(dim=0)                    # over the batch: the bug
            return (norms - 1.0).square().mean(), norms.detach().mean()
"""
NO_CREATE_GRAPH = """
    import torch

    from gpbench.penalties import Penalty, register_penalty
    from gpbench.penalties.gradients import interpolate


    @register_penalty
    class DetachedGP(Penalty):
        kind = "detached-gp"
        default_lambda = 10.0

        def term(self, critic, real, fake, generator, values, real_scores, fake_scores):
            points = interpolate(real, fake).detach().requires_grad_(True)
            gradient, = torch.autograd.grad(critic(points).sum(), points)      # no create_graph: the bug
            norms = gradient.flatten(1).norm(dim=1)
            return (norms - 1.0).square().mean(), norms.mean()
"""


def test_the_worked_example_registers_from_its_file_and_passes_every_check(capsys):
    assert main(["check-penalty", "absolute-gp", "--module", str(EXAMPLE), "--set", "lambda=2"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS  ") == 4 and "FAIL" not in out and "0 of 4 checks failed" in out
    assert "value 4 on D(x) = w.x + b, |w| = 3" in out            # 2 * |3 - 1|: the closed form
    assert "INFO  Dirac-GAN, wgan game:" in out and "INFO  Dirac-GAN, ns game:" in out
    assert build.build_penalty({"kind": "absolute-gp"}).settings()["lambda"] == 10.0


@pytest.mark.parametrize("body, kind, failing", [
    (BROKEN_AXIS, "wrong-axis-gp", "closed form on a linear critic: .* on the batch but .* on it repeated twice"),
    (NO_CREATE_GRAPH, "detached-gp", "reaches the critic's parameters: no gradient reaches the critic's parameters "
                                     r"\(is the input gradient taken with create_graph=True\?\)")],
    ids=["norm-over-the-batch", "no-create-graph"])
def test_a_broken_kind_fails_the_check_that_names_its_bug(tmp_path, capsys, body, kind, failing):
    import re

    module = write_kind(tmp_path, kind.replace("-", "_"), body)
    assert main(["check-penalty", kind, "--module", str(module)]) == 1
    out = capsys.readouterr().out
    assert re.search("FAIL  " + failing, out), out
    assert re.search(r"[1-4] of 4 checks failed", out)


def test_every_builtin_kind_passes_the_checks():
    from gpbench.analysis.penaltycheck import CHECKS

    configs = [{"kind": kind} for kind in build.REGISTRY] + [
        {"kind": "flex", "flex": 0.1, "loss": "d_loss", "wrt": "inputs"},
        {"kind": "flex", "flex": [0.1, 0.2], "loss": "d_loss", "components": ["discriminator"]},
        {"kind": "r1", "every": 4}, {"kind": "wgan-gp", "fraction": 0.5}]
    failed = [(config, result.line) for config in configs for check in CHECKS
              if (result := check(build.build_penalty(config))).passed is False]
    assert failed == []


@pytest.mark.slow
def test_a_suite_names_the_module_and_its_run_trains_the_kind_in_a_fresh_process(tmp_path):
    from gpbench.suite.pipeline import plan

    suite = {"suite": "plugin", "seeds": [0], "penalty_modules": [str(EXAMPLE)],
             "replication": [{"datasets": ["8gaussians"], "methods": ["wgan-gp"],
                              "overrides": {"penalty": {"kind": "absolute-gp", "lambda": 0.1}, "dim": 8,
                                            "batch_size": 16, "iterations": 3, "log_every": 1}}]}
    run, = plan(suite)
    assert run.config["penalty_modules"] == [str(EXAMPLE)]
    (tmp_path / "run.yaml").write_text(json.dumps({**run.config, "data_root": str(tmp_path / "data")}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    trained = subprocess.run([sys.executable, "-m", "gpbench.cli", "train", "run.yaml", "--out", "run", "--set",
                              "threads=1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    lines = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(line["penalty"] > 0 for line in lines)


@pytest.mark.parametrize("body, error", [
    ("raise RuntimeError('no GPU here')", r"penalty_modules: importing .*bad\.py failed: RuntimeError: no GPU here"),
    ("from gpbench.penalties import register_penalty\nregister_penalty(int)",
     r"register_penalty: expected a subclass of gpbench.penalties.Penalty, got <class 'int'>"),
    ("from gpbench.penalties import Penalty, register_penalty\n"
     "class Mine(Penalty):\n    kind = 'wgan-gp'\nregister_penalty(Mine)",
     r"register_penalty: kind 'wgan-gp' is taken by gpbench.penalties.kinds.WganGP; choose another name"),
    ("from gpbench.penalties import Penalty, register_penalty\n"
     "class Mine(Penalty):\n    kind = 'My GP'\nregister_penalty(Mine)",
     r"register_penalty: Mine.kind = 'My GP'; set it to a name of lower-case letters, digits, '.' and '-'"),
])
def test_a_bad_penalty_module_stops_in_one_line_naming_it(tmp_path, body, error):
    path = tmp_path / "bad.py"
    path.write_text(body + "\n")
    with pytest.raises(ConfigError, match=error):
        plugins.load_penalty_modules([str(path)])


@pytest.mark.parametrize("entries, error", [
    (["missing.py"], r"penalty_modules: missing.py does not exist \(relative to .*\); give a .py file or an "
                     "importable module name"),
    (["no_such_module_here"], r"penalty_modules: no module named 'no_such_module_here' on the Python path"),
    ("examples/absolute_gp.py", r"penalty_modules: expected a list of .py files or module names"),
])
def test_a_penalty_module_that_is_not_there_is_named(entries, error):
    with pytest.raises(ConfigError, match=error):
        plugins.load_penalty_modules(entries)


def test_check_penalty_refuses_an_unknown_kind_or_module_with_exit_2(capsys):
    assert main(["check-penalty", "no-such-kind"]) == 2
    assert "kind: 'no-such-kind' is not allowed; allowed: wgan-gp" in capsys.readouterr().err
    assert main(["check-penalty", "wgan-gp", "--module", "missing.py"]) == 2
    assert "--module: missing.py does not exist" in capsys.readouterr().err
    assert main(["check-penalty", "wgan-gp", "--set", "lambda"]) == 2
    assert "--set 'lambda': expected KEY=VALUE" in capsys.readouterr().err


def test_registering_the_same_class_twice_is_harmless():
    from gpbench.penalties import WganGP

    assert build.register_penalty(WganGP) is WganGP and build.REGISTRY["wgan-gp"] is WganGP


def test_the_example_run_config_names_the_module_and_resolves_from_the_repository(monkeypatch):
    from gpbench.training.config import load_run_config

    monkeypatch.chdir(REPO)
    config = load_run_config(REPO / "configs/examples/25gaussians-absolute-gp.yaml")
    assert config["penalty_modules"] == ["examples/absolute_gp.py"]
    assert config["penalty"] == {"kind": "absolute-gp", "lambda": 0.1}

"""The step engines on the CPU: the capture-ready steps (engine graph, run uncaptured here) give the eager loop's
run; which engine a config gets, and where the run records it. The CUDA half (captured vs eager, resume under
capture, no host sync) is in test_gpu.py."""

import json
import math

import pytest
import torch

from gpbench import ConfigError
from gpbench.training.config import resolve
from gpbench.training.engine import choose_engine
from gpbench.training.train import Trainer

TIMING_FIELDS = ("seconds", "samples_per_s")

# Settings whose capture-ready steps use the eager loop's very operations: the run is bitwise the same.
BITWISE = {
    "wgan-gp": {},
    "wgan-clip (RMSProp-TF, clip after)": {"method": "wgan-clip"},
    "clip before the step": {"method": "wgan-clip", "clip_placement": "before"},
    "ns-gan": {"method": "ns-gan"},
    "mm-gan with noisy labels": {"method": "mm-gan", "flip_probability": 0.1, "real_label": 0.9},
    "wgan-gp with RMSProp": {"method": "wgan-gp-rmsprop"},
    "r1, lazy every 2": {"penalty": {"kind": "r1", "every": 2}},
    "dragan, on half the batch": {"penalty": {"kind": "dragan", "fraction": 0.5}},
    "flex on D and G, d_loss": {"penalty": {"kind": "flex", "components": ["discriminator", "generator"],
                                            "loss": "d_loss"}},
    "flex HyperGAN form (g_loss)": {"penalty": {"kind": "flex", "flex": [0.1, 0.2]}},
    # a scheduled lambda and margin are device scalars; the step multiplies by them as the eager one does by floats
    "flex with decay and anneal schedules": {"penalty": {"kind": "flex", "flex": "decay(range=1:0 steps=20)",
                                                         "lambda": "anneal(0.5 T=10)", "loss": "both"}},
    "bf16 autocast": {"amp": "bf16"},
    "Arjovsky's critic warm-up": {"method": "wgan-clip", "critic_warmup": True, "iterations": 3},
    "mnist DCGAN": {"dataset": "mnist", "dim": 4, "batch_size": 8, "iterations": 3},
    "cifar10 DCGAN channels_last": {"dataset": "cifar10", "dim": 4, "batch_size": 4, "iterations": 3,
                                    "memory_format": "channels_last"},
    "cifar10 ResNet": {"dataset": "cifar10", "arch": "cifar10-resnet", "dim": 4, "batch_size": 4,
                       "generator_batch_size": 8, "iterations": 3, "lr_decay": "none"},
}
# A decaying learning rate is a device tensor in the capture-ready optimizers: Adam divides by its bias
# correction in one more rounding, TFRMSprop multiplies instead of addcdiv. Every logged value within 1e-6.
WITHIN_1E6 = {
    "adam, linear lr decay": {"lr_decay": "linear"},
    "rmsprop-tf, linear lr decay": {"method": "wgan-clip", "lr_decay": "linear"},
    "cifar10 ResNet preset (linear decay)": {"dataset": "cifar10", "arch": "cifar10-resnet", "dim": 4,
                                             "batch_size": 4, "generator_batch_size": 8, "iterations": 3},
}


@pytest.fixture
def synthetic_cifar10(tmp_path):
    from gpbench.suite.rehearsal import write_synthetic_cifar10

    write_synthetic_cifar10(tmp_path / "data", 64)
    return str(tmp_path / "data")


def run(tmp_path, engine, **overrides):
    config = {"method": "wgan-gp", "dataset": "25gaussians", "dim": 16, "batch_size": 32, "iterations": 8,
              "checkpoint_every": 4, "log_every": 1, "seed": 0, "threads": 1, "data_root": str(tmp_path / "data"),
              "engine": engine, **overrides}
    out = tmp_path / engine
    trainer = Trainer(resolve(config), out, progress=False)
    assert trainer.run() == "completed"
    lines = [{key: value for key, value in json.loads(line).items() if key not in TIMING_FIELDS}
             for line in (out / "metrics.jsonl").read_text().splitlines()]
    return trainer, lines


def both_engines(tmp_path, overrides, data_root=None):
    if overrides.get("dataset") == "cifar10":
        overrides = {**overrides, "data_root": data_root}
    eager, eager_lines = run(tmp_path, "eager", **overrides)
    static, static_lines = run(tmp_path, "graph", **overrides)
    assert (eager.engine.name, static.engine.name, static.engine.captured) == ("eager", "graph", False)
    assert len(eager_lines) == len(static_lines) == overrides.get("iterations", 8)
    return eager, eager_lines, static, static_lines


@pytest.mark.slow
@pytest.mark.parametrize("overrides", BITWISE.values(), ids=BITWISE.keys())
def test_capture_ready_steps_give_the_eager_run_bitwise(tmp_path, synthetic_cifar10, overrides):
    eager, eager_lines, static, static_lines = both_engines(tmp_path, overrides, synthetic_cifar10)
    assert static_lines == eager_lines
    for name, tensor in eager.generator.state_dict().items():
        assert torch.equal(tensor, static.generator.state_dict()[name]), name


@pytest.mark.parametrize("overrides", WITHIN_1E6.values(), ids=WITHIN_1E6.keys())
def test_a_device_learning_rate_changes_rounding_only(tmp_path, synthetic_cifar10, overrides):
    _, eager_lines, _, static_lines = both_engines(tmp_path, overrides, synthetic_cifar10)
    assert [line.keys() for line in static_lines] == [line.keys() for line in eager_lines]
    for eager_line, static_line in zip(eager_lines, static_lines):
        for key, value in eager_line.items():
            if isinstance(value, float):
                assert static_line[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
            else:
                assert static_line[key] == value, key


@pytest.mark.parametrize("engine, overrides", [
    ("graph", {"lr_decay": "linear"}),
    ("graph", {"penalty": {"kind": "flex", "flex": [0.1, 0.2]}}),     # g_loss: the last critic batch is kept
    ("eager", {"penalty": {"kind": "flex", "flex": [0.1, 0.2]}}),
])
def test_a_run_resumes_bitwise_from_its_checkpoint(tmp_path, interrupt_at, engine, overrides):
    """Interrupted at iteration 6 and resumed from its checkpoint at 4, a run ends where the uninterrupted one did
    (the checkpoint holds the last real batch, which a penalty on g_loss reads at the next generator step)."""
    _, whole = run(tmp_path / "whole", engine, **overrides)
    with interrupt_at(6), pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", engine, **overrides)
    _, lines = run(tmp_path / "resumed", engine, **overrides)
    assert lines == whole


def test_the_engine_is_recorded_in_the_status_by_the_name_the_config_gives_it(tmp_path):
    run(tmp_path, "graph")
    status = json.loads((tmp_path / "graph" / "status.json").read_text())
    assert (status["engine"], status["captured"]) == ("graph", False)         # no CUDA here: uncaptured


@pytest.mark.parametrize("asked, device, compiled, expected", [
    ("auto", "cpu", False, ("eager", False, None)),
    ("graph", "cpu", False, ("graph", False, None)),
    ("eager", "cuda", False, ("eager", False, None)),
    ("auto", "cuda", False, ("graph", True, None)),
    ("graph", "cuda", False, ("graph", True, None)),
])
def test_which_engine_a_config_gets(asked, device, compiled, expected):
    assert choose_engine({"engine": asked, "compile": compiled}, torch.device(device)) == expected


def test_a_setting_that_cannot_be_captured_says_why_in_one_line():
    engine, capture, why = choose_engine({"engine": "auto", "compile": True}, torch.device("cuda"))
    assert (engine, capture) == ("eager", False) and "compile: true" in why and "\n" not in why


def test_an_unknown_engine_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"^engine: 'fast' is not allowed; allowed: auto, eager, graph$"):
        resolve({"method": "wgan-gp", "dataset": "8gaussians", "engine": "fast"})


def test_the_engine_is_not_part_of_a_runs_identity(tmp_path, interrupt_at):
    """A run trained eagerly may resume under the graph engine: it changes speed, not the run."""
    _, whole = run(tmp_path / "whole", "eager")
    with interrupt_at(6), pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", "eager")
    config = resolve({"method": "wgan-gp", "dataset": "25gaussians", "dim": 16, "batch_size": 32, "iterations": 8,
                      "checkpoint_every": 4, "log_every": 1, "seed": 0, "threads": 1,
                      "data_root": str(tmp_path / "resumed" / "data"), "engine": "graph"})
    resumed = Trainer(config, tmp_path / "resumed" / "eager", progress=False)
    assert resumed.iteration == 4 and resumed.run() == "completed"
    lines = [{key: value for key, value in json.loads(line).items() if key not in TIMING_FIELDS}
             for line in (tmp_path / "resumed" / "eager" / "metrics.jsonl").read_text().splitlines()]
    assert lines == whole


@pytest.mark.parametrize("overrides", [
    {"dataset": "mnist", "dim": 4, "batch_size": 8},
    {"dataset": "cifar10", "dim": 4, "batch_size": 4, "method": "ns-gan"},          # batchnorm in G and D
    {"dataset": "cifar10", "arch": "cifar10-resnet", "dim": 4, "batch_size": 4, "generator_batch_size": 8},
], ids=["mnist", "cifar10-ns-gan", "cifar10-resnet"])
@pytest.mark.slow
def test_channels_last_changes_the_layout_not_the_run(tmp_path, synthetic_cifar10, overrides):
    """The GPU default (memory_format auto) holds conv weights and image batches channels_last; the first
    iteration's values equal the contiguous layout's to rounding, every later one stays finite."""
    settings = {**overrides, "iterations": 3, "data_root": synthetic_cifar10 if overrides["dataset"] == "cifar10"
                else str(tmp_path / "data")}
    layouts = {}
    for layout in ("contiguous", "channels_last"):
        trainer, lines = run(tmp_path / layout, "graph", memory_format=layout, **settings)
        convolution = next(p for p in trainer.critic.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] > 1)
        assert convolution.is_contiguous(memory_format=torch.channels_last) == (layout == "channels_last")
        layouts[layout] = lines
    for key in ("d_loss", "wasserstein_estimate", "penalty"):
        assert layouts["channels_last"][0][key] == pytest.approx(layouts["contiguous"][0][key], rel=1e-4, abs=1e-6)
    assert all(value is not None for line in layouts["channels_last"] for key, value in line.items()
               if key not in ("g_loss", "gradient_norm"))


def test_memory_format_auto_is_channels_last_for_image_nets_on_a_gpu_only():
    from gpbench.training.engine import memory_format

    assert memory_format({"memory_format": "auto", "dataset": "cifar10"}, torch.device("cuda")) == torch.channels_last
    assert memory_format({"memory_format": "auto", "dataset": "cifar10"}, torch.device("cpu")) == torch.contiguous_format
    assert memory_format({"memory_format": "auto", "dataset": "8gaussians"}, torch.device("cuda")) == \
        torch.contiguous_format
    with pytest.raises(ConfigError, match=r"^memory_format: 'nhwc' is not allowed; allowed: auto, contiguous, "
                                          r"channels_last$"):
        resolve({"method": "wgan-gp", "dataset": "8gaussians", "memory_format": "nhwc"})


@pytest.mark.parametrize("first, then", [("eager", "graph"), ("graph", "eager")])
def test_a_decaying_learning_rate_survives_a_resume_under_the_other_engine(tmp_path, interrupt_at, first, then):
    """The checkpoint holds the learning rate as the first engine kept it (a float, or a device tensor); the
    resumed engine puts back its own, and the run ends as the uninterrupted one to 1e-6."""
    _, whole = run(tmp_path / "whole", first, lr_decay="linear")
    with interrupt_at(6), pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", first, lr_decay="linear")
    config = resolve({"method": "wgan-gp", "dataset": "25gaussians", "dim": 16, "batch_size": 32, "iterations": 8,
                      "checkpoint_every": 4, "log_every": 1, "seed": 0, "threads": 1, "lr_decay": "linear",
                      "data_root": str(tmp_path / "resumed" / "data"), "engine": then})
    resumed = Trainer(config, tmp_path / "resumed" / first, progress=False)
    assert resumed.iteration == 4 and resumed.run() == "completed"
    lines = [{key: value for key, value in json.loads(line).items() if key not in TIMING_FIELDS}
             for line in (tmp_path / "resumed" / first / "metrics.jsonl").read_text().splitlines()]
    for resumed_line, whole_line in zip(lines, whole, strict=True):
        for key, value in whole_line.items():
            if isinstance(value, float):
                assert resumed_line[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_compile_without_a_cpp_compiler_trains_eagerly_and_says_so(tmp_path, monkeypatch, caplog):
    import shutil

    from gpbench.training.config import resolve
    from gpbench.training.train import Trainer

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    config = resolve({"method": "wgan-gp", "dataset": "8gaussians", "dim": 8, "batch_size": 16, "iterations": 2,
                      "log_every": 1, "threads": 1, "compile": True, "data_root": str(tmp_path)})
    with caplog.at_level("INFO"):
        trainer = Trainer(config, tmp_path / "run", progress=False)
        assert trainer.run() == "completed"
    assert trainer.generator_forward is trainer.generator and trainer.critic_forward is trainer.critic
    assert "compile: true, but no C++ compiler" in caplog.text and "training eagerly" in caplog.text


@pytest.mark.parametrize("engine", ["graph", "eager"])
def test_a_checkpoint_without_the_last_real_batch_resumes_by_drawing_one(tmp_path, interrupt_at, engine):
    """Checkpoints written before the last real batch was saved resume a penalty on g_loss (one batch drawn)."""
    flex = {"penalty": {"kind": "flex", "flex": [0.1, 0.2]}}
    with interrupt_at(6), pytest.raises(KeyboardInterrupt):
        run(tmp_path, engine, **flex)
    from gpbench.training.rundir import RunDir

    folder = RunDir(tmp_path / engine)
    state = folder.load_checkpoint()
    del state["last_real"]                                   # as an older gpbench wrote it
    folder.save_checkpoint(state)
    _, lines = run(tmp_path, engine, **flex)
    assert [line["iteration"] for line in lines][-1] == 7
    assert all(math.isfinite(line["g_loss"]) for line in lines if line.get("g_loss") is not None)


@pytest.mark.parametrize("engine", ["graph", "eager"])
def test_a_scheduled_lambda_at_zero_skips_the_penalty_s_work(tmp_path, monkeypatch, engine):
    """Once lambda has decayed to 0 the penalty is not computed (a non-finite one could not turn the step NaN)."""
    from gpbench.penalties import WganGP

    lambdas = []
    original = WganGP.term

    def counted(self, *args):
        lambdas.append(float(args[4]["lambda"]))          # the value now (the graph engine refills its tensor)
        return original(self, *args)

    monkeypatch.setattr(WganGP, "term", counted)
    run(tmp_path, engine, penalty={"kind": "wgan-gp", "lambda": "decay(range=1:0 steps=10)"})
    assert 0 < len(lambdas) < 8 * 5 and not any(float(value) == 0.0 for value in lambdas)
    assert len(lambdas) == 10                                # critic steps 0-9, before lambda reached 0

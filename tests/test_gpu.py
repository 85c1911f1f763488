"""The GPU path on a GPU: the penalty core on CUDA against the CPU, training through checkpoints on CUDA, and
evaluation (generator and Inception) on CUDA against the CPU.

Skipped without CUDA (CI has none); a user with a GPU runs them with the rest of ``pytest``. The CPU half of
each fact (penalty closed forms, checkpoint checks) is tested in test_penalties.py and test_train.py.
"""

import json

import pytest
import torch
from torch import nn

import numpy as np

from gpbench.training.config import resolve
from gpbench.analysis.evaluate import evaluate_run
from gpbench.metrics.features import InceptionFeatures
from gpbench.suite.rehearsal import write_random_inception
from gpbench.penalties import REGISTRY, build_penalty
from gpbench.training.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

PENALTIES = [{"kind": kind} for kind in REGISTRY if kind not in ("flex", "none")] + [
    {"kind": "flex", "components": ["discriminator"]}, {"kind": "flex", "components": ["discriminator", "generator"]}]


@pytest.fixture
def same_draws_on_every_device(monkeypatch):
    """torch.rand / rand_like drawn from one CPU generator, so both devices see the same interpolates."""
    draw, draws = torch.rand, {"generator": torch.Generator().manual_seed(0)}

    def rand(*size, device=None, dtype=None, **_):
        return draw(*size, generator=draws["generator"], dtype=dtype).to(device)

    monkeypatch.setattr(torch, "rand", rand)
    monkeypatch.setattr(torch, "rand_like", lambda t, **_: rand(t.shape, device=t.device, dtype=t.dtype))
    return lambda: draws.update(generator=torch.Generator().manual_seed(0))


def penalty_and_gradients(config, device, restart_draws):
    restart_draws()
    torch.manual_seed(1)
    critic = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                           nn.Flatten(), nn.Linear(16 * 8 * 8, 1)).double().to(device)
    generator = nn.Sequential(nn.Linear(8, 3 * 32 * 32), nn.Tanh(), nn.Unflatten(1, (3, 32, 32))).double().to(device)
    inputs = torch.Generator().manual_seed(2)
    real = (2 * torch.rand(16, 3, 32, 32, generator=inputs, dtype=torch.float64) - 1).to(device)
    fake = generator(torch.randn(16, 8, generator=inputs, dtype=torch.float64).to(device))
    parameters = list(critic.parameters()) + list(generator.parameters())
    value = build_penalty(config).evaluate(critic, real, fake, generator=generator, step=0).value
    gradients = torch.autograd.grad(value, parameters, allow_unused=True)
    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gradients, parameters)])
    return value.detach().cpu(), flat.detach().cpu()


@pytest.mark.parametrize("config", PENALTIES, ids=lambda c: "-".join(map(str, c.values())))
def test_every_penalty_on_cuda_equals_the_cpu_in_float64(config, same_draws_on_every_device):
    """Same weights, inputs and draws: value and parameter gradients agree to rounding (seen on an H200:
    <= 5e-16 relative; in float32 convolutions may use TF32 and differ by ~5e-3)."""
    value_cpu, grads_cpu = penalty_and_gradients(config, "cpu", same_draws_on_every_device)
    value_gpu, grads_gpu = penalty_and_gradients(config, "cuda", same_draws_on_every_device)
    torch.testing.assert_close(value_gpu, value_cpu, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads_gpu, grads_cpu, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["wgan-gp", "wgan-clip", "ns-gan"])
def test_training_on_cuda_passes_its_checkpoints_and_resumes_from_them(tmp_path, method):
    """Adam keeps its step count on the CPU beside CUDA moments: the checkpoints' finiteness check must cope."""
    config = resolve({"method": method, "dataset": "25gaussians", "dim": 16, "batch_size": 32, "iterations": 6,
                      "checkpoint_every": 2, "log_every": 1, "seed": 0, "device": "cuda"})
    assert Trainer(config, tmp_path / "run", progress=False).run() == "completed"
    resumed = Trainer(config, tmp_path / "run", progress=False)
    assert resumed.iteration == 6 and resumed.device.type == "cuda"
    assert all(p.is_cuda for p in resumed.critic.parameters())
    assert resumed.run() == "completed"


def test_a_run_trained_on_cuda_evaluates_alike_on_the_cpu_and_on_cuda(tmp_path):
    """The checkpoint is read onto the CPU first, so a GPU-trained run also evaluates where there is no GPU."""
    config = resolve({"method": "wgan-gp", "dataset": "8gaussians", "dim": 16, "batch_size": 32, "iterations": 4,
                      "checkpoint_every": 2, "log_every": 1, "seed": 0, "device": "cuda"})
    Trainer(config, tmp_path / "run", progress=False).run()
    on_cpu, on_cuda = (evaluate_run(tmp_path / "run", samples=500, curves=False, progress=False, device=device)
                       for device in ("cpu", "cuda"))
    assert on_cpu["metrics"].keys() == on_cuda["metrics"].keys() and {"modes", "emd", "swd"} <= on_cpu["metrics"].keys()
    for metric, value in on_cpu["metrics"].items():
        assert np.isclose(on_cuda["metrics"][metric], value, rtol=1e-4), metric


def test_inception_features_on_cuda_equal_the_cpu(tmp_path):
    """TF32 off for the extractor: float32 on both devices (random weights; the architecture is what matters)."""
    weights = write_random_inception(tmp_path / "random-inception.pth")
    images = np.random.RandomState(0).randint(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)
    on_cpu, on_cuda = (InceptionFeatures(weights, device=device)(images) for device in ("cpu", "cuda"))
    for key in ("pool", "logits"):
        scale = np.abs(on_cpu[key]).max()
        assert np.abs(on_cuda[key] - on_cpu[key]).max() <= 1e-4 * scale, key


# --- the graph engine (docs/engines.md): captured steps against the eager loop ------------------------------

CAPTURED = {
    "toy-wgan-gp": {},
    "toy-wgan-clip-rmsprop-tf-clip-after": {"method": "wgan-clip"},
    "toy-wgan-clip-clip-before": {"method": "wgan-clip", "clip_placement": "before"},
    "toy-wgan-gp-with-torch-rmsprop": {"method": "wgan-gp-rmsprop"},
    "toy-mm-gan-noisy-labels": {"method": "mm-gan", "flip_probability": 0.1, "real_label": 0.9},
    "toy-r1-lazy-every-4": {"penalty": {"kind": "r1", "every": 4}},
    "toy-dragan-half-batch": {"penalty": {"kind": "dragan", "fraction": 0.5}},
    "toy-wgan-lp": {"penalty": {"kind": "wgan-lp"}},
    "toy-r2": {"penalty": {"kind": "r2"}},
    "toy-flex-d-g-on-d-loss": {"penalty": {"kind": "flex", "components": ["discriminator", "generator"],
                                           "loss": "d_loss"}},
    "toy-flex-hypergan-form-g-loss": {"penalty": {"kind": "flex", "flex": [0.1, 0.2]}},
    "toy-flex-inputs-scheduled": {"penalty": {"kind": "flex", "wrt": "inputs", "loss": "both",
                                               "flex": "decay(range=1:0 steps=400)", "lambda": "anneal(0.5 T=300)"}},
    "toy-linear-lr-decay": {"lr_decay": "linear"},
    "mnist-wgan-gp": {"dataset": "mnist", "dim": 16, "batch_size": 16},
    "cifar10-ns-gan-batchnorm-g-and-d": {"dataset": "cifar10", "method": "ns-gan", "dim": 16, "batch_size": 16},
    "cifar10-wgan-gp-bf16": {"dataset": "cifar10", "dim": 16, "batch_size": 16, "amp": "bf16"},
    "cifar10-resnet-linear-decay": {"dataset": "cifar10", "arch": "cifar10-resnet", "dim": 16, "batch_size": 16,
                                     "generator_batch_size": 32},
}
ITERATIONS = 200


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from gpbench.suite.rehearsal import write_synthetic_cifar10

    root = tmp_path_factory.mktemp("data")
    write_synthetic_cifar10(root, 64)
    return str(root)


def cuda_config(data_root, engine, **overrides):
    return resolve({"method": "wgan-gp", "dataset": "8gaussians", "dim": 64, "batch_size": 64,
                    "iterations": ITERATIONS, "checkpoint_every": 100, "log_every": 20, "seed": 0,
                    "device": "cuda", "data_root": data_root, "engine": engine, **overrides})


def logged(run_dir):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{key: value for key, value in line.items() if key not in ("seconds", "samples_per_s")} for line in lines]


def largest_relative_difference(first, second):
    assert [line.keys() for line in first] == [line.keys() for line in second]
    worst = 0.0
    for a, b in zip(first, second):
        for key, value in a.items():
            if isinstance(value, float) and isinstance(b[key], float):
                worst = max(worst, abs(value - b[key]) / max(abs(value), 1e-3))
            else:
                assert value == b[key], key
    return worst


def train(config, out):
    trainer = Trainer(config, out, progress=False)
    assert trainer.run() == "completed"
    return trainer, logged(out)


@pytest.mark.parametrize("overrides", CAPTURED.values(), ids=CAPTURED.keys())
def test_every_setting_is_captured_and_replays_its_uncaptured_steps(tmp_path, data_root, monkeypatch, overrides):
    """Each setting's steps are captured (no fallback), and replaying them gives what running the same
    capture-ready steps uncaptured (warm-up forever) gives: same kernels, addresses and RNG offsets."""
    iterations = {"iterations": 30, "checkpoint_every": 10, "log_every": 5}
    captured, captured_lines = train(cuda_config(data_root, "graph", **overrides, **iterations), tmp_path / "graph")
    assert (captured.engine.name, captured.engine.captured) == ("graph", True)
    assert all(step.graph is not None for step in captured.engine.steps.values())
    status = json.loads((tmp_path / "graph" / "status.json").read_text())
    assert (status["engine"], status["captured"]) == ("graph", True)
    monkeypatch.setattr("gpbench.training.engine.WARMUP_CALLS", 10**9)
    uncaptured, uncaptured_lines = train(cuda_config(data_root, "graph", **overrides, **iterations),
                                         tmp_path / "uncaptured")
    assert all(step.graph is None for step in uncaptured.engine.steps.values())
    difference = largest_relative_difference(uncaptured_lines, captured_lines)
    print(f"captured vs uncaptured, 30 iterations: largest relative difference {difference:.2e}")
    assert difference <= 1e-6


AGREEMENT = ["toy-wgan-gp", "toy-flex-inputs-scheduled", "cifar10-ns-gan-batchnorm-g-and-d", "cifar10-wgan-gp-bf16",
             "cifar10-resnet-linear-decay"]


@pytest.mark.parametrize("setting", AGREEMENT)
def test_captured_and_eager_runs_agree(tmp_path, data_root, setting):
    """200 iterations: the captured run and the eager loop (the same optimizers, layouts and device schedules on
    a GPU) agree to 1e-6 of every logged value, or, where cuDNN's kernels are not bitwise reproducible, to within
    10x the spread of two eager runs."""
    overrides = CAPTURED[setting]
    captured, captured_lines = train(cuda_config(data_root, "graph", **overrides), tmp_path / "graph")
    assert (captured.engine.name, captured.engine.captured) == ("graph", True)
    _, eager_lines = train(cuda_config(data_root, "eager", **overrides), tmp_path / "eager")
    difference = largest_relative_difference(eager_lines, captured_lines)
    bound = 1e-6
    if difference > bound:
        _, again = train(cuda_config(data_root, "eager", **overrides), tmp_path / "eager-again")
        bound = max(bound, 10 * largest_relative_difference(eager_lines, again))
    print(f"captured vs eager, {ITERATIONS} iterations: largest relative difference {difference:.2e} "
          f"(bound {bound:.1e})")
    assert difference <= bound


@pytest.mark.parametrize("overrides", [{}, {"dataset": "cifar10", "dim": 16, "batch_size": 16, "lr_decay": "linear"}],
                         ids=["toy", "cifar10-lr-decay"])
def test_kill_and_resume_under_capture_gives_the_uninterrupted_run(tmp_path, data_root, interrupt_at, overrides):
    _, whole = train(cuda_config(data_root, "graph", **overrides), tmp_path / "whole")
    with interrupt_at(130), pytest.raises(KeyboardInterrupt):
        train(cuda_config(data_root, "graph", **overrides), tmp_path / "resumed")
    resumed = Trainer(cuda_config(data_root, "graph", **overrides), tmp_path / "resumed", progress=False)
    assert resumed.iteration == 100 and resumed.run() == "completed"
    assert (resumed.engine.name, resumed.engine.captured) == ("graph", True)
    difference = largest_relative_difference(whole, logged(tmp_path / "resumed"))
    bound = 1e-6
    if difference > bound:            # cuDNN's backward kernels need not be bitwise reproducible run to run
        _, again = train(cuda_config(data_root, "graph", **overrides), tmp_path / "again")
        bound = max(bound, 10 * largest_relative_difference(whole, again))
    print(f"resumed under capture vs uninterrupted: largest relative difference {difference:.2e} (bound {bound:.1e})")
    assert difference <= bound


@pytest.mark.parametrize("overrides", [{}, {"dataset": "cifar10", "dim": 16, "batch_size": 16, "lr_decay": "linear",
                                            "penalty": {"kind": "flex", "flex": "decay(range=1:0 steps=400)"}}],
                         ids=["toy", "cifar10-scheduled"])
def test_no_host_sync_between_log_points(tmp_path, data_root, overrides):
    """After warm-up and capture, iterations between two log points never wait for the GPU."""
    trainer = Trainer(cuda_config(data_root, "graph", **overrides), tmp_path / "run", progress=False)
    try:
        for iteration in range(8):
            trainer.train_iteration(iteration)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for iteration in range(8, 30):
                trainer.train_iteration(iteration)
        finally:
            torch.cuda.set_sync_debug_mode(0)
        assert (trainer.engine.name, trainer.engine.captured) == ("graph", True)
    finally:
        trainer.lock.release()


def test_compile_falls_back_to_eager_with_one_log_line(tmp_path, data_root, caplog):
    with caplog.at_level("WARNING"):
        trainer = Trainer(cuda_config(data_root, "graph", compile=True), tmp_path / "run", progress=False)
    trainer.lock.release()
    assert trainer.engine.name == "eager"
    assert [record.getMessage() for record in caplog.records if "compile: true" in record.getMessage()]

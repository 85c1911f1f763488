"""The GPU path on a GPU: the penalty core on CUDA against the CPU, training through checkpoints on CUDA, and
evaluation (generator and Inception) on CUDA against the CPU.

Skipped without CUDA (CI has none); a user with a GPU runs them with the rest of ``pytest``. The CPU half of
each fact (penalty closed forms, checkpoint checks) is tested in test_penalties.py and test_train.py.
"""

import pytest
import torch
from torch import nn

import numpy as np

from gpbench.config import resolve
from gpbench.evaluate import evaluate_run
from gpbench.metrics.features import InceptionFeatures
from gpbench.rehearsal import write_random_inception
from gpbench.penalties import REGISTRY, build_penalty
from gpbench.train import Trainer

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

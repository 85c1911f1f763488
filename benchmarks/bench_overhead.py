"""gpbench against the plainest textbook code doing the same work, timed interleaved in one run.
``extra_info["bound"]`` is what benchmarks/check.py enforces on ``extra_info["ratio"]`` (gpbench / reference).

- one wgan-gp critic step of Gulrajani's MNIST (batch 50) and CIFAR-10 DCGAN (batch 64) critics;
- one full training iteration (5 critic steps + 1 generator step) of the toy preset: gpbench's Trainer vs a
  plain loop.

Set GPBENCH_BENCH_SLOWER_PENALTY=1 to make gpbench's penalty deliberately wasteful (its critic forward and
double backward at the interpolates done twice): the check must then fail.
"""

import os

import pytest
import torch

from gpbench.paper import preset
from gpbench.training.config import model_options, resolve
from gpbench.training.losses import discriminator_loss
from gpbench.models import build
from gpbench.penalties import build_penalty
from gpbench.training.train import Trainer

from pairing import paired

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BOUND = 1.05
SLOWER = os.environ.get("GPBENCH_BENCH_SLOWER_PENALTY") == "1"


def textbook_wgan_gp_step(critic, optimizer, real, fake, lam=10.0):
    """The usual PyTorch WGAN-GP critic step, written out."""
    optimizer.zero_grad()
    d_real = critic(real).mean()
    d_fake = critic(fake).mean()
    alpha = torch.rand(real.size(0), *([1] * (real.dim() - 1)))
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    d_interpolates = critic(interpolates)
    gradients = torch.autograd.grad(d_interpolates, interpolates, grad_outputs=torch.ones_like(d_interpolates),
                                    create_graph=True)[0]
    penalty = ((gradients.view(gradients.size(0), -1).norm(2, dim=1) - 1) ** 2).mean()
    (d_fake - d_real + lam * penalty).backward()
    optimizer.step()


def critic_and_optimizer(arch):
    torch.manual_seed(0)
    _, critic = build(arch, **model_options(preset(arch, "wgan-gp")))
    return critic, torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))


@pytest.mark.parametrize("arch, batch, shape, rounds", [("mnist", 50, (1, 28, 28), 31), ("cifar10", 64, (3, 32, 32), 21)])
def test_wgan_gp_critic_step_vs_textbook(benchmark, arch, batch, shape, rounds):
    real, fake = torch.rand(batch, *shape), torch.rand(batch, *shape)
    critic, optimizer = critic_and_optimizer(arch)
    penalty = build_penalty({"kind": "wgan-gp", "lambda": 10})
    reference_critic, reference_optimizer = critic_and_optimizer(arch)

    def gpbench_step():
        optimizer.zero_grad(set_to_none=True)
        real_scores, fake_scores = critic(real), critic(fake)
        term = penalty(critic, real, fake)
        if SLOWER:
            term = (term + penalty(critic, real, fake)) / 2
        (discriminator_loss("wgan", real_scores, fake_scores) + term).backward()
        optimizer.step()

    benchmark.group = "overhead: wgan-gp critic step"
    benchmark.extra_info.update(arch=arch, batch=batch, threads=1, bound=BOUND)
    paired(benchmark, gpbench_step, lambda: textbook_wgan_gp_step(reference_critic, reference_optimizer, real, fake),
           rounds=rounds)


def test_training_iteration_vs_plain_loop(benchmark, tmp_path):
    config = resolve({"method": "wgan-gp", "dataset": "25gaussians", "iterations": 10**6, "threads": 1,
                      "log_every": 10**6, "checkpoint_every": 10**6, "data_root": str(tmp_path)})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    if SLOWER:
        penalty = trainer.loss.penalty
        term = penalty.term

        def twice(*args, **kwargs):
            (first, norm), (second, _) = term(*args, **kwargs), term(*args, **kwargs)
            return (first + second) / 2, norm

        penalty.term = twice

    torch.manual_seed(0)
    generator, critic = build("toy", **model_options(config))
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
    d_optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    data = torch.from_numpy(trainer.stream.data)
    batch = config["batch_size"]

    def plain_iteration():
        g_optimizer.zero_grad()
        (-critic(generator(torch.randn(batch, 2))).mean()).backward()
        g_optimizer.step()
        for _ in range(config["n_critic"]):
            real = data[torch.randint(len(data), (batch,))]
            with torch.no_grad():
                fake = generator(torch.randn(batch, 2))
            textbook_wgan_gp_step(critic, d_optimizer, real, fake, lam=0.1)

    iteration = iter(range(1, 10**6))
    benchmark.group = "overhead: training iteration"
    benchmark.extra_info.update(arch="toy", batch=batch, threads=1, bound=BOUND)
    paired(benchmark, lambda: trainer.train_iteration(next(iteration)), plain_iteration, rounds=25)

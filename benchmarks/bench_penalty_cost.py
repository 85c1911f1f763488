"""The cost table: one critic step of Gulrajani's MNIST (batch 50) and CIFAR-10 DCGAN (batch 64) critics with
each penalty kind, interleaved with the same step without a penalty; ``extra_info["ratio"]`` = with / without.
`python benchmarks/check.py BENCH.json --cost-table results/bench/penalty_cost.md` writes the table."""

import pytest
import torch

from gpbench.paper import preset
from gpbench.training.config import model_options
from gpbench.training.losses import discriminator_loss
from gpbench.models import build
from gpbench.penalties import build_penalty

from pairing import paired

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROUNDS = 8
ARCHS = {"mnist": (50, (1, 28, 28)), "cifar10": (64, (3, 32, 32))}
PENALTIES = {
    "wgan-gp": {"kind": "wgan-gp"},
    "wgan-lp": {"kind": "wgan-lp"},
    "zero-gp": {"kind": "zero-gp"},
    "r1": {"kind": "r1"},
    "r2": {"kind": "r2"},
    "dragan": {"kind": "dragan"},
    "flex-parameters": {"kind": "flex", "flex": 1.0, "loss": "d_loss", "components": ["discriminator"]},
    "flex-inputs": {"kind": "flex", "flex": 1.0, "wrt": "inputs", "loss": "d_loss"},
}


def critic_step(arch, penalty_config):
    """One Adam step of the critic on fixed batches, as gpbench's trainer does it (R1/R2 reuse the forward)."""
    batch, shape = ARCHS[arch]
    torch.manual_seed(0)
    _, critic = build(arch, **model_options(preset(arch, "wgan-gp")))
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    penalty = build_penalty(penalty_config)
    real, fake = torch.rand(batch, *shape), torch.rand(batch, *shape)

    def step():
        optimizer.zero_grad(set_to_none=True)
        real_batch, fake_batch = penalty.prepare(real.clone(), fake.clone(), step=0)
        real_scores, fake_scores = critic(real_batch), critic(fake_batch)
        loss = discriminator_loss("wgan", real_scores, fake_scores) + penalty(
            critic, real_batch, fake_batch, real_scores=real_scores, fake_scores=fake_scores)
        loss.backward()
        optimizer.step()

    return step


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("name", list(PENALTIES))
def test_critic_step_cost_vs_no_penalty(benchmark, arch, name):
    benchmark.group = "penalty cost"
    benchmark.extra_info.update(threads=1, arch=arch, batch=ARCHS[arch][0], penalty=name)
    paired(benchmark, critic_step(arch, PENALTIES[name]), critic_step(arch, {"kind": "none"}), rounds=ROUNDS,
           warmup_rounds=2)

"""One critic step of Gulrajani's MNIST critic (batch 50) with each input-gradient penalty, paired against the
same step without a penalty; ``extra_info["ratio"]`` = step with penalty / step without (median over rounds)."""

import pytest
import torch

from gpbench.losses import discriminator_loss
from gpbench.models import build
from gpbench.penalties import build_penalty

from pairing import paired

THREADS = 1            # one thread: stable timings on a 2-core machine with the other core busy
BATCH = 50
ROUNDS = 20
INPUT_GRADIENT_PENALTIES = {
    "wgan-gp": {"kind": "wgan-gp"},
    "wgan-lp": {"kind": "wgan-lp"},
    "zero-gp": {"kind": "zero-gp"},
    "r1": {"kind": "r1"},
    "r2": {"kind": "r2"},
    "dragan": {"kind": "dragan"},
    "flex-inputs": {"kind": "flex", "flex": 1.0, "wrt": "inputs"},
}


def critic_step(penalty_config):
    """A closure doing one Adam step of the critic on fixed real and fake batches."""
    torch.manual_seed(0)
    _, critic = build("mnist", "wgan-gp")
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    penalty = build_penalty(penalty_config)
    real, fake = torch.rand(BATCH, 1, 28, 28), torch.rand(BATCH, 1, 28, 28)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = discriminator_loss("wgan", critic(real), critic(fake)) + penalty(critic, real, fake)
        loss.backward()
        optimizer.step()

    return step


@pytest.fixture(autouse=True)
def fixed_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name", list(INPUT_GRADIENT_PENALTIES))
def test_mnist_critic_step_with_penalty_vs_without(benchmark, name):
    benchmark.group = "mnist critic step (batch 50) vs no penalty"
    benchmark.extra_info.update(threads=THREADS, batch=BATCH, penalty=name)
    paired(benchmark, critic_step(INPUT_GRADIENT_PENALTIES[name]), critic_step({"kind": "none"}), rounds=ROUNDS)

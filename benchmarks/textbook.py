"""The references of the performance gate, written out as a PyTorch textbook would: networks, the critic step of
every game and penalty gpbench gates, and the WGAN-GP training iteration. Nothing here imports gpbench, so a slowdown in gpbench's model, penalty, loss or
trainer code moves gpbench's side of a ratio and not this one (docs/performance.md).

The nets do the same arithmetic as Gulrajani's (gan_toy.py, gan_mnist.py, gan_cifar.py), which gpbench builds:
the same layers and shapes, PyTorch's default initialisation and symmetric padding (tests/test_bench_check.py pins
the parameter shapes against gpbench's nets).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NOISE = 128


def toy_nets(dim: int) -> tuple[nn.Module, nn.Module]:
    """gan_toy.py: 2 -> DIM -> DIM -> DIM -> 2 (generator) and -> 1 (critic), ReLU."""
    def mlp(out_features):
        return nn.Sequential(nn.Linear(2, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim),
                             nn.ReLU(), nn.Linear(dim, out_features))
    return mlp(2), nn.Sequential(mlp(1), nn.Flatten(0))


def image_critic(dim: int, channels: int) -> nn.Module:
    """Three 5x5 stride-2 convolutions DIM, 2DIM, 4DIM with LeakyReLU(0.2), then a linear layer to one score."""
    return nn.Sequential(
        nn.Conv2d(channels, dim, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(dim, 2 * dim, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * dim, 4 * dim, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * 4 * 4 * dim, 1), nn.Flatten(0))


class Unflatten(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.view(-1, 4 * self.dim, 4, 4)


class CropTo7(nn.Module):
    def forward(self, x):
        return x[:, :, :7, :7]


def image_generator(dim: int, channels: int, batchnorm: bool) -> nn.Module:
    """Linear 128 -> 4*4*4DIM, then three 5x5 stride-2 transposed convolutions; MNIST (one channel) crops 8x8 to
    7x7 after the first and ends in a sigmoid, CIFAR-10 ends in tanh; gan_cifar.py's batchnorm when asked."""
    def norm(features, flat=False):
        if not batchnorm:
            return nn.Identity()
        norm_class = nn.BatchNorm1d if flat else nn.BatchNorm2d        # batch statistics only, as tflib's
        return norm_class(features, track_running_stats=False)
    mnist = channels == 1
    return nn.Sequential(
        nn.Linear(NOISE, 4 * 4 * 4 * dim), norm(4 * 4 * 4 * dim, flat=True), nn.ReLU(), Unflatten(dim),
        nn.ConvTranspose2d(4 * dim, 2 * dim, 5, 2, 2, output_padding=1), norm(2 * dim), nn.ReLU(),
        CropTo7() if mnist else nn.Identity(),
        nn.ConvTranspose2d(2 * dim, dim, 5, 2, 2, output_padding=1), norm(dim), nn.ReLU(),
        nn.ConvTranspose2d(dim, channels, 5, 2, 2, output_padding=1), nn.Sigmoid() if mnist else nn.Tanh())


def adam(module: nn.Module) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=1e-4, betas=(0.5, 0.9))


# --- critic losses of the games (scores are logits) ---------------------------------------------------------

def bce(scores, target):
    return F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, target))


GAMES = {
    "wgan": lambda real, fake: fake.mean() - real.mean(),
    "ns": lambda real, fake: bce(real, 1.0) + bce(fake, 0.0),
    "mm": lambda real, fake: bce(real, 1.0) + bce(fake, 0.0),
    "ls": lambda real, fake: ((real - 1).square().mean() + fake.square().mean()) / 2,
    "rp": lambda real, fake: F.softplus(fake - real).mean(),
}


# --- penalties: (critic, real, fake, real scores, fake scores) -> the term added to the critic loss ----------

def input_gradient(critic, points):
    """Per-sample gradients of the critic at ``points``, flattened, kept in the graph."""
    points = points.detach().requires_grad_(True)
    return torch.autograd.grad(critic(points).sum(), points, create_graph=True)[0].flatten(1)


def per_sample(real):
    """One U[0, 1] number per sample, broadcast over the sample's other dimensions."""
    return torch.rand(real.size(0), *([1] * (real.dim() - 1)), dtype=real.dtype)


def interpolates(real, fake):
    return real + per_sample(real) * (fake - real)


def perturbed_real(real):
    noise = 0.5 * real.std() * torch.rand_like(real)
    return real + per_sample(real) * noise


def on_scores(scores, points):
    return torch.autograd.grad(scores.sum(), points, create_graph=True)[0].flatten(1)


def flex_parameters(critic, real, fake, margin=1.0):
    """HyperGAN's flex on the critic's parameters: || relu(|d mean D / d theta| - margin) ||_2."""
    gradients = torch.autograd.grad(critic(torch.cat([real, fake])).mean(), list(critic.parameters()),
                                    create_graph=True)
    return (sum(torch.relu(g.abs() - margin).square().sum() for g in gradients) + 1e-12).sqrt()   # finite at 0


def flex_inputs(critic, real, fake, margin=1.0):
    """The same margin norm per sample on the input gradients at the real and the fake batch."""
    gradients = torch.cat([input_gradient(critic, real), input_gradient(critic, fake)])
    return (torch.relu(gradients.abs() - margin).square().sum(1) + 1e-12).sqrt().mean()


PENALTIES = {
    "none": lambda critic, real, fake, real_scores, fake_scores: 0.0,
    "wgan-gp": lambda critic, real, fake, real_scores, fake_scores:
        10 * (input_gradient(critic, interpolates(real, fake)).norm(dim=1) - 1).square().mean(),
    "wgan-lp": lambda critic, real, fake, real_scores, fake_scores:
        10 * torch.relu(input_gradient(critic, interpolates(real, fake)).norm(dim=1) - 1).square().mean(),
    "zero-gp": lambda critic, real, fake, real_scores, fake_scores:
        10 * input_gradient(critic, interpolates(real, fake)).square().sum(1).mean(),
    "dragan": lambda critic, real, fake, real_scores, fake_scores:
        10 * (input_gradient(critic, perturbed_real(real)).norm(dim=1) - 1).square().mean(),
    "r1": lambda critic, real, fake, real_scores, fake_scores:
        5 * on_scores(real_scores, real).square().sum(1).mean(),
    "r2": lambda critic, real, fake, real_scores, fake_scores:
        5 * on_scores(fake_scores, fake).square().sum(1).mean(),
    "r1r2": lambda critic, real, fake, real_scores, fake_scores:
        5 * (on_scores(real_scores, real).square().sum(1).mean() + on_scores(fake_scores, fake).square().sum(1).mean()),
    "flex-parameters": lambda critic, real, fake, real_scores, fake_scores: flex_parameters(critic, real, fake),
    "flex-inputs": lambda critic, real, fake, real_scores, fake_scores: flex_inputs(critic, real, fake),
}
ON_SCORES = {"r1": ("real",), "r2": ("fake",), "r1r2": ("real", "fake")}   # differentiate the loss's own forward


def critic_step(critic, optimizer, real, fake, game="wgan", penalty="none", clip=None, apply_penalty=True):
    """One critic step: the game's loss, plus the penalty when it applies at this step, then Adam; weight
    clipping to [-clip, clip] after the step when asked (Gulrajani's wgan mode)."""
    optimizer.zero_grad()
    reuse = ON_SCORES.get(penalty, ()) if apply_penalty else ()
    if "real" in reuse:
        real = real.requires_grad_(True)
    if "fake" in reuse:
        fake = fake.requires_grad_(True)
    real_scores, fake_scores = critic(real), critic(fake)
    loss = GAMES[game](real_scores, fake_scores)
    if apply_penalty:
        loss = loss + PENALTIES[penalty](critic, real, fake, real_scores, fake_scores)
    loss.backward()
    optimizer.step()
    if clip:
        with torch.no_grad():
            for parameter in critic.parameters():
                parameter.clamp_(-clip, clip)


class WganGpLoop:
    """Gulrajani's training iteration, written out: a generator step, then ``n_critic`` WGAN-GP critic steps on
    batches drawn uniformly from ``data`` (a float tensor in the model's range)."""

    def __init__(self, generator, critic, data, batch, n_critic, noise_dim):
        self.generator, self.critic, self.data = generator, critic, data
        self.batch, self.n_critic, self.noise_dim = batch, n_critic, noise_dim
        self.g_optimizer, self.d_optimizer = adam(generator), adam(critic)

    def __call__(self):
        self.g_optimizer.zero_grad()
        (-self.critic(self.generator(torch.randn(self.batch, self.noise_dim))).mean()).backward()
        self.g_optimizer.step()
        for _ in range(self.n_critic):
            real = self.data[torch.randint(len(self.data), (self.batch,))]
            with torch.no_grad():
                fake = self.generator(torch.randn(self.batch, self.noise_dim))
            critic_step(self.critic, self.d_optimizer, real, fake, penalty="wgan-gp")

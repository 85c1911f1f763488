"""Gulrajani et al. 2017's architectures with tflib init, plus the deep MLP of Figure 1b.

``build(arch, dim=..., depth=..., generator_batchnorm=..., critic_batchnorm=...)`` returns
``(generator, critic)``; the method presets in :mod:`gpbench.config` say which values each method uses
(``config.model_options``). Every generator has ``noise_dim``; every critic maps a batch to a vector of scores.
"""

from __future__ import annotations

from torch import nn

from gpbench.errors import ConfigError
from gpbench.models import dcgan, mlp, resnet

def _mlps(dim, depth, generator_batchnorm, critic_batchnorm):
    return mlp.toy_generator(dim, depth), mlp.toy_critic(dim, depth)


def _dcgan(channels: int):
    def nets(dim, depth, generator_batchnorm, critic_batchnorm):
        return dcgan.Generator(dim, channels, generator_batchnorm), dcgan.Critic(dim, channels, critic_batchnorm)
    return nets


def _resnet(dim, depth, generator_batchnorm, critic_batchnorm):
    return resnet.Generator(dim, generator_batchnorm), resnet.Critic(dim)


ARCHITECTURES = {"toy": _mlps, "deep-mlp": _mlps, "mnist": _dcgan(1), "cifar10": _dcgan(3), "cifar10-resnet": _resnet}


def build(arch: str, *, dim: int, depth: int = 3, generator_batchnorm: bool = False,
          critic_batchnorm: bool = False) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of ``arch``; ``depth`` is the number of hidden layers of the MLP architectures."""
    if arch not in ARCHITECTURES:
        raise ConfigError(f"arch: {arch!r} is not allowed; allowed: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](dim, depth, generator_batchnorm, critic_batchnorm)

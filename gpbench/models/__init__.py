"""Gulrajani et al. 2017's architectures with tflib init, the deep MLP of Figure 1b, Figure 2's rows and
Table 1's random architectures.

``build(arch, dim=..., depth=..., generator_batchnorm=..., critic_batchnorm=...)`` returns
``(generator, critic)``; the method presets in :mod:`gpbench.paper` say which values each method uses
(``config.model_options``). Every generator has ``noise_dim``; every critic maps a batch to a vector of scores.
"""

from __future__ import annotations

from torch import nn

from gpbench.errors import ConfigError
from gpbench.models import dcgan, mlp, random_architectures, resnet, zoo


def _mlps(dim, depth, generator_batchnorm, critic_batchnorm):
    return mlp.toy_generator(dim, depth), mlp.toy_critic(dim, depth)


def _dcgan(channels: int):
    def nets(dim, depth, generator_batchnorm, critic_batchnorm):
        return dcgan.Generator(dim, channels, generator_batchnorm), dcgan.Critic(dim, channels, critic_batchnorm)
    return nets


def _resnet(dim, depth, generator_batchnorm, critic_batchnorm):
    return resnet.Generator(dim, generator_batchnorm), resnet.Critic(dim)


def _figure2(dim, depth, generator_batchnorm, critic_batchnorm, *, figure2_row, resnet_blocks, critic_norm, size,
             channels, output):
    """A Figure 2 row (gpbench.models.zoo): the row decides where normalisation goes, the method which kind."""
    return zoo.figure2_nets(figure2_row, size=size, channels=channels, dim=dim, critic_norm=critic_norm,
                            output=output, blocks=resnet_blocks)


def _random(dim, depth, generator_batchnorm, critic_batchnorm, *, random_architecture, critic_norm, size, channels,
            output):
    """Architecture ``index`` of the sweep ``seed`` in ``space`` (gpbench.models.random_architectures)."""
    drawn = random_architectures.draw_architecture(random_architecture["seed"], random_architecture["index"],
                                                   random_architecture["space"])
    return random_architectures.random_nets(drawn, size=size, channels=channels, critic_norm=critic_norm,
                                            output=output)


ARCHITECTURES = {"toy": _mlps, "deep-mlp": _mlps, "mnist": _dcgan(1), "cifar10": _dcgan(3), "cifar10-resnet": _resnet,
                 "figure2": _figure2, "random": _random}
IMAGE_LAYOUT_ARCHITECTURES = ("figure2", "random")    # built for the dataset's image size, channels and range


def build(arch: str, *, dim: int, depth: int = 3, generator_batchnorm: bool = False,
          critic_batchnorm: bool = False, **layout) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of ``arch``; ``depth`` is the number of hidden layers of the MLP architectures;
    ``layout`` the row or draw, image geometry and critic normalisation of the IMAGE_LAYOUT_ARCHITECTURES."""
    if arch not in ARCHITECTURES:
        raise ConfigError(f"arch: {arch!r} is not allowed; allowed: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](dim, depth, generator_batchnorm, critic_batchnorm, **layout)

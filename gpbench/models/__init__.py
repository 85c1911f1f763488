"""Gulrajani et al. 2017's architectures with tflib init, plus the deep MLP of Figure 1b.

``build(arch, method)`` returns ``(generator, critic)`` with the preset's DIM and batchnorm placement
(gpbench.config); keyword overrides (``dim``, ``depth``, ``generator_batchnorm``, ``critic_batchnorm``)
win over the preset. Every generator has ``noise_dim``; every critic maps a batch to a vector of scores.
"""

from __future__ import annotations

from torch import nn

from gpbench.config import ARCHS, METHODS, preset
from gpbench.errors import ConfigError
from gpbench.models import dcgan, mlp, resnet


def build(arch: str, method: str, *, dim: int | None = None, depth: int | None = None,
          generator_batchnorm: bool | None = None, critic_batchnorm: bool | None = None
          ) -> tuple[nn.Module, nn.Module]:
    if arch not in ARCHS:
        raise ConfigError(f"arch: {arch!r} is not allowed; allowed: {', '.join(ARCHS)}")
    if method not in METHODS:
        raise ConfigError(f"method: {method!r} is not allowed; allowed: {', '.join(METHODS)}")
    settings = preset(arch, method)
    dim = dim or settings["dim"]
    depth = depth or settings.get("depth", 3)
    g_bn = settings["generator_batchnorm"] if generator_batchnorm is None else generator_batchnorm
    d_bn = settings["critic_batchnorm"] if critic_batchnorm is None else critic_batchnorm
    if arch in ("toy", "deep-mlp"):
        return mlp.toy_generator(dim, depth), mlp.toy_critic(dim, depth)
    if arch in ("mnist", "cifar10"):
        channels = 1 if arch == "mnist" else 3
        return dcgan.Generator(dim, channels, g_bn), dcgan.Critic(dim, channels, d_bn)
    return resnet.Generator(dim, g_bn), resnet.Critic(dim)

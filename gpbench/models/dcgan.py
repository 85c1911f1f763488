"""Gulrajani's DCGAN-style nets: gan_mnist.py (28x28x1, sigmoid) and gan_cifar.py (32x32x3, tanh).

Both generators: Linear 128 -> 4*4*4*DIM, reshape 4DIM x 4 x 4, three 5x5 stride-2 deconvs. Both critics:
three 5x5 stride-2 SAME convs DIM, 2DIM, 4DIM with LeakyReLU(0.2), then Linear 4*4*4*DIM -> 1.
Batchnorm placement is an argument; :mod:`gpbench.models` picks it per method as the scripts do.
"""

from __future__ import annotations

from torch import nn

from gpbench.models.layers import (ConvTranspose2dSame, Conv2dSame, Crop, LeakyReLU, Reshape, batchnorm, linear,
                                   maybe)

NOISE_DIM = 128


class Generator(nn.Sequential):
    """MNIST (channels=1): deconv -> 2DIM x 8 x 8, crop to 7 x 7, -> DIM x 14 x 14, -> 1 x 28 x 28, sigmoid.
    CIFAR-10 (channels=3): -> 2DIM x 8 x 8 -> DIM x 16 x 16 -> 3 x 32 x 32, tanh.
    """

    def __init__(self, dim: int, channels: int, use_batchnorm: bool):
        mnist = channels == 1
        super().__init__(
            linear(NOISE_DIM, 4 * 4 * 4 * dim),
            maybe(use_batchnorm, batchnorm(4 * 4 * 4 * dim, dims=1)),  # per unit of the flat output
            nn.ReLU(),
            Reshape(4 * dim, 4, 4),
            ConvTranspose2dSame(4 * dim, 2 * dim),
            maybe(use_batchnorm, batchnorm(2 * dim)),
            nn.ReLU(),
            Crop(7) if mnist else nn.Identity(),
            ConvTranspose2dSame(2 * dim, dim),
            maybe(use_batchnorm, batchnorm(dim)),
            nn.ReLU(),
            ConvTranspose2dSame(dim, channels),
            nn.Sigmoid() if mnist else nn.Tanh(),
        )
        self.noise_dim = NOISE_DIM


class Critic(nn.Sequential):
    """conv(in -> DIM) LReLU; conv(-> 2DIM) [BN] LReLU; conv(-> 4DIM) [BN] LReLU; Linear(4*4*4DIM -> 1)."""

    def __init__(self, dim: int, channels: int, use_batchnorm: bool):
        super().__init__(
            Conv2dSame(channels, dim, 5, stride=2),
            LeakyReLU(),
            Conv2dSame(dim, 2 * dim, 5, stride=2),
            maybe(use_batchnorm, batchnorm(2 * dim)),
            LeakyReLU(),
            Conv2dSame(2 * dim, 4 * dim, 5, stride=2),
            maybe(use_batchnorm, batchnorm(4 * dim)),
            LeakyReLU(),
            nn.Flatten(),
            linear(4 * 4 * 4 * dim, 1),
            nn.Flatten(0),
        )

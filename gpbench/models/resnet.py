"""gan_cifar_resnet.py, unconditional: pre-activation 3x3 residual nets for 32x32x3 (Gulrajani Table 3).

Generator: Linear 128 -> DIM*4*4; three up-blocks 4 -> 8 -> 16 -> 32; BN, ReLU, conv 3x3 -> 3, tanh.
Critic: optimized block -> 16x16; down block -> 8x8; two identity blocks; ReLU, global mean pool, Linear -> 1.
No normalisation in the critic. Upsampling is nearest-neighbour (the script's 4x concat + depth_to_space),
mean pooling the average of the four 2x2 phases (= 2x2 average pooling).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gpbench.models.layers import Conv2dSame, Reshape, batchnorm, linear

NOISE_DIM = 128


class MeanPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2)


class Upsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest")


class ResidualBlock(nn.Module):
    """shortcut(x) + main(x); ``resample`` in {"up", "down", None} as the script's ResidualBlock."""

    def __init__(self, in_channels: int, out_channels: int, resample: str | None, use_batchnorm: bool):
        super().__init__()

        def norm(channels):
            return batchnorm(channels) if use_batchnorm else nn.Identity()

        if resample == "up":
            self.shortcut = nn.Sequential(Upsample(), Conv2dSame(in_channels, out_channels, 1, he_init=False))
            self.main = nn.Sequential(norm(in_channels), nn.ReLU(), Upsample(), Conv2dSame(in_channels, out_channels, 3),
                                      norm(out_channels), nn.ReLU(), Conv2dSame(out_channels, out_channels, 3))
        elif resample == "down":
            self.shortcut = nn.Sequential(Conv2dSame(in_channels, out_channels, 1, he_init=False), MeanPool())
            self.main = nn.Sequential(norm(in_channels), nn.ReLU(), Conv2dSame(in_channels, in_channels, 3),
                                      norm(in_channels), nn.ReLU(), Conv2dSame(in_channels, out_channels, 3), MeanPool())
        else:
            self.shortcut = nn.Identity() if in_channels == out_channels else \
                Conv2dSame(in_channels, out_channels, 1, he_init=False)
            self.main = nn.Sequential(norm(in_channels), nn.ReLU(), Conv2dSame(in_channels, out_channels, 3),
                                      norm(out_channels), nn.ReLU(), Conv2dSame(out_channels, out_channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.main(x)


class OptimizedBlock(nn.Module):
    """The critic's first block: conv, ReLU, conv + mean pool; shortcut mean pool + 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.shortcut = nn.Sequential(MeanPool(), Conv2dSame(in_channels, out_channels, 1, he_init=False))
        self.main = nn.Sequential(Conv2dSame(in_channels, out_channels, 3), nn.ReLU(),
                                  Conv2dSame(out_channels, out_channels, 3), MeanPool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.main(x)


class Generator(nn.Sequential):
    def __init__(self, dim: int, use_batchnorm: bool = True):
        super().__init__(
            linear(NOISE_DIM, 4 * 4 * dim),
            Reshape(dim, 4, 4),
            ResidualBlock(dim, dim, "up", use_batchnorm),
            ResidualBlock(dim, dim, "up", use_batchnorm),
            ResidualBlock(dim, dim, "up", use_batchnorm),
            batchnorm(dim) if use_batchnorm else nn.Identity(),
            nn.ReLU(),
            Conv2dSame(dim, 3, 3, he_init=False),
            nn.Tanh(),
        )
        self.noise_dim = NOISE_DIM


class GlobalMeanPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class Critic(nn.Sequential):
    def __init__(self, dim: int):
        super().__init__(
            OptimizedBlock(3, dim),
            ResidualBlock(dim, dim, "down", use_batchnorm=False),
            ResidualBlock(dim, dim, None, use_batchnorm=False),
            ResidualBlock(dim, dim, None, use_batchnorm=False),
            nn.ReLU(),
            GlobalMeanPool(),
            linear(dim, 1),
            nn.Flatten(0),
        )

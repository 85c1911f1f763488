"""Gulrajani et al. 2017, Figure 2: the generator / critic pairs of gan_64x64.py, for 64x64 inputs (the paper)
and for 32x32 and 28x28 (CIFAR-10, MNIST-like) inputs.

Rows (FIGURE2_ROWS), as gan_64x64.py pairs them:
- ``dcgan``: DCGANGenerator (Linear 128 -> 4*4*8DIM, norm, ReLU, 5x5 stride-2 deconvs halving the channels,
  norm + ReLU between, output activation) and DCGANDiscriminator (5x5 stride-2 convs DIM, 2DIM, 4DIM, 8DIM with
  LeakyReLU 0.2, norm on all but the first, Linear -> 1); every weight U with std 0.02 (tflib's weights stdev);
- ``crippled-g``: G with DIM filters in every layer, ReLU, no normalisation, tflib's default init; D as dcgan;
- ``fc-g``: G a 4-layer ReLU MLP of width 512 (He init), Linear to the pixels, output activation; D as dcgan;
- ``no-norm``: dcgan without normalisation in G or D;
- ``gated``: every layer gives twice the channels a, b and passes sigmoid(a) * tanh(b) (PixelCNN's gate);
  tflib's default init;
- ``tanh``: dcgan with tanh in place of ReLU / LeakyReLU;
- ``resnet``: bottleneck residual blocks (ReLU, 1x1 conv to half width, ReLU, 3x3 conv / stride-2 conv /
  deconv, ReLU, 1x1 conv, norm, x0.3 onto the shortcut), ``depth`` blocks per resolution (the paper: 6, and 5
  at the image's own resolution: 101 layers at 64x64); G output tanh(x / 5), D output / 5.
Sizes: a 64x64 net has four resampling stages (4 -> 64), a 32x32 net three (widths from 4DIM), a 28x28 net three
with the generator cropped to 7x7 after its first stage, as gan_mnist.py. Normalisation: batchnorm (batch
statistics) in G; in the critic batchnorm, or per-sample layernorm over (C, H, W) when the method has a gradient
penalty (``critic_norm="layernorm"``: batchnorm mixes the samples a per-sample penalty differentiates).
Depth-to-space (the sub-pixel shortcut) uses PyTorch's channel order, TensorFlow's differs by a fixed permutation
of the preceding conv's output channels, which are drawn i.i.d.: the same distribution of networks.
"""

from __future__ import annotations

import torch
from torch import nn

from gpbench.errors import ConfigError
from gpbench.models.layers import (ConvTranspose2dSame, Conv2dSame, Crop, LeakyReLU, Reshape, batchnorm, linear,
                                   tflib_init_)

NOISE_DIM = 128
FIGURE2_ROWS = ("dcgan", "crippled-g", "fc-g", "no-norm", "gated", "tanh", "resnet")
SIZES = (64, 32, 28)
CRITIC_NORMS = ("batchnorm", "layernorm")
DCGAN_WEIGHT_STD = 0.02            # lib.ops.*.set_weights_stdev(0.02) in DCGANGenerator / DCGANDiscriminator
FC_WIDTH, FC_LAYERS = 512, 4
RESNET_BLOCKS = 6                  # bottleneck blocks per resolution in gan_64x64.py (5 at the top resolution)
RESIDUAL_SCALE, RESNET_OUTPUT_SCALE = 0.3, 5.0


def stages(size: int) -> int:
    """Stride-2 stages between 4x4 and the image: 4 for 64x64, 3 for 32x32 and 28x28."""
    if size not in SIZES:
        raise ConfigError(f"image size {size}: Figure 2's nets take {', '.join(map(str, SIZES))} pixels")
    return 4 if size == 64 else 3


def norm_layer(kind: str | None, channels: int) -> nn.Module:
    if kind is None:
        return nn.Identity()
    if kind == "layernorm":
        return nn.GroupNorm(1, channels, eps=1e-5)          # tflib Layernorm over (C, H, W), per-channel affine
    return batchnorm(channels)


class Gate(nn.Module):
    """sigmoid(a) * tanh(b) with a, b the even and odd channels (gan_64x64.py's pixcnn_gated_nonlinearity)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x[:, ::2]) * torch.tanh(x[:, 1::2])


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": LeakyReLU(), "tanh": nn.Tanh(), "gate": Gate()}[name]


def output_activation(name: str) -> nn.Module:
    return {"tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[name]


def _with_std(module: nn.Module, std: float | None) -> nn.Module:
    return tflib_init_(module, std) if std is not None else module


class ConvGenerator(nn.Sequential):
    """DCGANGenerator and its variants: Linear -> widths[0] x 4 x 4, then a deconv per stage down to ``channels``.
    ``gated`` layers produce twice their channels for the gate; ``weight_std`` overrides tflib's init."""

    def __init__(self, widths: list[int], channels: int, size: int, *, norm: bool, activation: str, output: str,
                 weight_std: float | None = None):
        factor = 2 if activation == "gate" else 1
        layers = [_with_std(linear(NOISE_DIM, 4 * 4 * widths[0] * factor), weight_std), Reshape(widths[0] * factor, 4, 4)]
        layers += [norm_layer("batchnorm" if norm else None, widths[0] * factor), _activation(activation)]
        for index, (width_in, width_out) in enumerate(zip(widths, widths[1:])):
            layers += [_with_std(ConvTranspose2dSame(width_in, width_out * factor), weight_std),
                       norm_layer("batchnorm" if norm else None, width_out * factor), _activation(activation)]
            if index == 0 and size == 28:
                layers.append(Crop(7))
        layers += [_with_std(ConvTranspose2dSame(widths[-1], channels), weight_std), output_activation(output)]
        super().__init__(*layers)
        self.noise_dim = NOISE_DIM


class ConvCritic(nn.Sequential):
    """DCGANDiscriminator and its variants: a 5x5 stride-2 conv per stage (widths), norm on all but the first,
    then Linear(4*4*widths[-1] -> 1)."""

    def __init__(self, widths: list[int], channels: int, *, norm: str | None, activation: str,
                 weight_std: float | None = None):
        factor = 2 if activation == "gate" else 1
        layers, width_in = [], channels
        for index, width in enumerate(widths):
            layers += [_with_std(Conv2dSame(width_in, width * factor, 5, stride=2), weight_std),
                       norm_layer(norm if index else None, width * factor), _activation(activation)]
            width_in = width
        layers += [nn.Flatten(), _with_std(linear(4 * 4 * widths[-1], 1), weight_std), nn.Flatten(0)]
        super().__init__(*layers)


class FCGenerator(nn.Sequential):
    """FCGenerator: FC_LAYERS ReLU layers of width 512 (He init), Linear to the pixels, output activation."""

    def __init__(self, channels: int, size: int, output: str):
        layers, width_in = [], NOISE_DIM
        for _ in range(FC_LAYERS):
            layers += [linear(width_in, FC_WIDTH, init="he"), nn.ReLU()]
            width_in = FC_WIDTH
        layers += [linear(FC_WIDTH, channels * size * size), output_activation(output), Reshape(channels, size, size)]
        super().__init__(*layers)
        self.noise_dim = NOISE_DIM


class SubpixelConv(nn.Module):
    """gan_64x64.py's SubpixelConv2D: a conv to 4x the channels, then depth-to-space (H -> 2H)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, he_init: bool):
        super().__init__()
        self.conv = Conv2dSame(in_channels, 4 * out_channels, kernel_size, he_init=he_init)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


class BottleneckBlock(nn.Module):
    """gan_64x64.py's BottleneckResidualBlock: shortcut + 0.3 * norm(conv1x1(relu(conv3x3(relu(conv1x1(relu x))))));
    ``resample`` None, "down" (stride-2 3x3 conv, stride-2 1x1 shortcut) or "up" (3x3 deconv, sub-pixel shortcut)."""

    def __init__(self, width_in: int, width_out: int, resample: str | None, norm: str):
        super().__init__()
        if resample is None and width_in == width_out:
            self.shortcut = nn.Identity()
        elif resample == "up":
            self.shortcut = SubpixelConv(width_in, width_out, 1, he_init=False)
        else:
            self.shortcut = Conv2dSame(width_in, width_out, 1, stride=2 if resample == "down" else 1, he_init=False)
        middle = (ConvTranspose2dSame(width_in // 2, width_out // 2, kernel_size=3) if resample == "up" else
                  Conv2dSame(width_in // 2, width_out // 2, 3, stride=2 if resample == "down" else 1))
        self.residual = nn.Sequential(nn.ReLU(), Conv2dSame(width_in, width_in // 2, 1), nn.ReLU(), middle, nn.ReLU(),
                                      Conv2dSame(width_out // 2, width_out, 1, bias=False), norm_layer(norm, width_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + RESIDUAL_SCALE * self.residual(x)


class ResnetGenerator(nn.Module):
    """ResnetGenerator: Linear -> widths[0] x 4 x 4; ``blocks`` blocks per resolution, an up block between; at the
    image's resolution ``blocks - 1`` blocks of DIM/2; 1x1 conv (he_init False) to the channels; tanh(x / 5)."""

    def __init__(self, widths: list[int], channels: int, size: int, blocks: int, output: str):
        super().__init__()
        layers: list[nn.Module] = [linear(NOISE_DIM, 4 * 4 * widths[0]), Reshape(widths[0], 4, 4)]
        for index, (width, width_next) in enumerate(zip(widths, widths[1:] + [widths[-1] // 2])):
            layers += [BottleneckBlock(width, width, None, "batchnorm") for _ in range(blocks)]
            layers.append(BottleneckBlock(width, width_next, "up", "batchnorm"))
            if index == 0 and size == 28:
                layers.append(Crop(7))
        layers += [BottleneckBlock(widths[-1] // 2, widths[-1] // 2, None, "batchnorm") for _ in range(blocks - 1)]
        layers.append(Conv2dSame(widths[-1] // 2, channels, 1, he_init=False))
        self.body = nn.Sequential(*layers)
        self.output = output_activation(output)
        self.noise_dim = NOISE_DIM

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(self.body(z) / RESNET_OUTPUT_SCALE)


class ResnetCritic(nn.Module):
    """ResnetDiscriminator: 1x1 conv to DIM/2; ``blocks - 1`` blocks at the image's resolution, then per stage a
    down block and ``blocks`` blocks; Linear(4*4*widths[0] -> 1); output / 5."""

    def __init__(self, widths: list[int], channels: int, blocks: int, norm: str):
        super().__init__()
        widths_up = list(reversed(widths))                   # DIM, 2DIM, ... toward 4x4
        layers: list[nn.Module] = [Conv2dSame(channels, widths_up[0] // 2, 1, he_init=False)]
        layers += [BottleneckBlock(widths_up[0] // 2, widths_up[0] // 2, None, norm) for _ in range(blocks - 1)]
        for width_in, width in zip([widths_up[0] // 2] + widths_up, widths_up):
            layers.append(BottleneckBlock(width_in, width, "down", norm))
            layers += [BottleneckBlock(width, width, None, norm) for _ in range(blocks)]
        layers += [nn.Flatten(), linear(4 * 4 * widths_up[-1], 1), nn.Flatten(0)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) / RESNET_OUTPUT_SCALE


def figure2_nets(row: str, *, size: int, channels: int, dim: int, critic_norm: str, output: str = "tanh",
                 blocks: int = RESNET_BLOCKS) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of Figure 2's ``row`` for ``size`` x ``size`` images with ``channels`` channels.
    ``critic_norm``: "batchnorm", or "layernorm" under a gradient penalty; ``output``: the generator's output
    activation for the data's range ("tanh" for [-1, 1], "sigmoid" for [0, 1]); ``blocks``: the ResNet's blocks
    per resolution (the paper's 6 is 101 layers at 64x64; fewer keep it within a CPU's reach)."""
    if row not in FIGURE2_ROWS:
        raise ConfigError(f"architecture {row!r} is not one of Figure 2's: {', '.join(FIGURE2_ROWS)}")
    if critic_norm not in CRITIC_NORMS:
        raise ConfigError(f"critic normalisation {critic_norm!r}: allowed {', '.join(CRITIC_NORMS)}")
    if not isinstance(blocks, int) or blocks < 1:
        raise ConfigError(f"resnet blocks per resolution: expected a whole number >= 1, got {blocks!r}")
    widths = [dim * 2 ** k for k in reversed(range(stages(size)))]          # e.g. 8DIM, 4DIM, 2DIM, DIM at 64x64
    if row == "resnet":
        return (ResnetGenerator(widths, channels, size, blocks, output),
                ResnetCritic(widths, channels, blocks, critic_norm))
    norm = row != "no-norm"
    activation = {"gated": ("gate", "gate"), "tanh": ("tanh", "tanh")}.get(row, ("relu", "leaky_relu"))
    std = DCGAN_WEIGHT_STD if row in ("dcgan", "no-norm", "tanh") else None
    critic = ConvCritic(list(reversed(widths)), channels, norm=critic_norm if norm else None,
                        activation=activation[1], weight_std=std)
    if row == "crippled-g":
        generator = ConvGenerator([dim] * len(widths), channels, size, norm=False, activation="relu", output=output)
        critic = ConvCritic(list(reversed(widths)), channels, norm=critic_norm, activation="leaky_relu",
                            weight_std=DCGAN_WEIGHT_STD)
    elif row == "fc-g":
        generator = FCGenerator(channels, size, output)
        critic = ConvCritic(list(reversed(widths)), channels, norm=critic_norm, activation="leaky_relu",
                            weight_std=DCGAN_WEIGHT_STD)
    else:
        generator = ConvGenerator(widths, channels, size, norm=norm, activation=activation[0], output=output,
                                  weight_std=std)
    return generator, critic

"""tflib-compatible building blocks (igul222/improved_wgan_training, tflib/ops): init, SAME padding, batchnorm.

tflib initialises weights uniform in [-std*sqrt(3), std*sqrt(3)] (so their std is ``std``) and biases to 0:
- Linear: Glorot std sqrt(2/(in+out)) by default, He std sqrt(2/in) where the script asks for 'he';
- Conv2D (he_init): std sqrt(4/(fan_in+fan_out)), fan_in = in*k^2, fan_out = out*k^2/stride^2;
- Deconv2D (he_init): the same formula with fan_in = in*k^2/4, fan_out = out*k^2 (stride 2);
- 1x1 shortcut convs and the ResNet output conv use he_init=False: std sqrt(2/(fan_in+fan_out)).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


@torch.no_grad()
def tflib_init_(module: nn.Module, std: float) -> nn.Module:
    """Weight ~ U[-std*sqrt(3), std*sqrt(3)], bias = 0."""
    bound = std * math.sqrt(3.0)
    module.weight.uniform_(-bound, bound)
    if module.bias is not None:
        module.bias.zero_()
    return module


def linear(in_features: int, out_features: int, init: str = "glorot") -> nn.Linear:
    """tflib Linear: ``init`` is 'glorot' (tflib's default) or 'he'."""
    std = {"glorot": math.sqrt(2.0 / (in_features + out_features)), "he": math.sqrt(2.0 / in_features)}[init]
    return tflib_init_(nn.Linear(in_features, out_features), std)


def _conv_std(fan_in: float, fan_out: float, he_init: bool) -> float:
    return math.sqrt((4.0 if he_init else 2.0) / (fan_in + fan_out))


def tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) along one axis: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """tflib Conv2D: a k x k convolution with TensorFlow SAME padding and tflib init."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 he_init: bool = True, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, bias=bias)
        fan_in = in_channels * kernel_size**2
        fan_out = out_channels * kernel_size**2 / stride**2
        tflib_init_(self, _conv_std(fan_in, fan_out, he_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = tf_same_padding(x.shape[-2], k, s)
        left, right = tf_same_padding(x.shape[-1], k, s)
        if top == bottom and left == right:
            return F.conv2d(x, self.weight, self.bias, s, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, s)


class ConvTranspose2dSame(nn.ConvTranspose2d):
    """tflib Deconv2D: 5x5 stride-2 transposed convolution H -> 2H with TensorFlow SAME alignment.

    TF's conv2d_transpose is the adjoint of a SAME conv on 2H whose padding is (k-2)//2 before: here a
    transposed conv with that padding, cropped to 2H.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, he_init: bool = True):
        # a SAME stride-2 conv on an even size pads k - 2 in total, (k - 2) // 2 before
        super().__init__(in_channels, out_channels, kernel_size, stride=2, padding=(kernel_size - 2) // 2)
        fan_in = in_channels * kernel_size**2 / 4
        fan_out = out_channels * kernel_size**2
        tflib_init_(self, _conv_std(fan_in, fan_out, he_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = 2 * x.shape[-2], 2 * x.shape[-1]
        return super().forward(x)[..., :height, :width]


def batchnorm(num_features: int, dims: int = 2) -> nn.Module:
    """tflib Batchnorm as the scripts use it: batch statistics always (no running averages), eps 1e-5."""
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(num_features, eps=1e-5, track_running_stats=False)


def maybe(enabled: bool, module: nn.Module) -> nn.Module:
    return module if enabled else nn.Identity()


class LeakyReLU(nn.LeakyReLU):
    """max(0.2 x, x), the scripts' LeakyReLU."""

    def __init__(self):
        super().__init__(0.2)


class Reshape(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)


class Crop(nn.Module):
    """output[:, :, :size, :size] (Gulrajani's MNIST generator crops 8x8 to 7x7)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : self.size, : self.size]

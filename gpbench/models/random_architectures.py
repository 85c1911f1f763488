"""Gulrajani et al. 2017, Table 1: random generator / critic architectures from the space of the paper's Table 4.

Architecture k of a sweep is a pure function of (sweep seed, k): ``draw_architecture`` seeds numpy's PCG64 with
the pair and draws, for the generator and then the critic, one value of each setting in a fixed order. Two
spaces: the paper's (``PAPER_SPACE``) and a CPU one with fewer filters and at most 12 layers (``CPU_SPACE``).

The paper does not say how depth is laid out over resolutions; gpbench's choice (docs/replication.md):
- generator: Linear 128 -> 4F x 4 x 4 (F the base filter count), then ``depth`` conv layers: the three 5x5
  stride-2 deconvs of Gulrajani's DCGAN generator (4F -> 2F -> F -> image channels; 28x28 crops 8 to 7 after the
  first) and ``depth - 3`` 3x3 stride-1 convs before them, spread over the 4, 8 and 16 pixel resolutions as
  evenly as possible, the remainder to the smallest; normalisation (batchnorm) after the Linear and every conv
  but the last, when drawn;
- critic: ``depth`` conv layers: the three 5x5 stride-2 convs (image -> F -> 2F -> 4F) and ``depth - 3`` 3x3
  stride-1 convs after them, spread over the 16, 8 and 4 pixel resolutions the same way; normalisation after
  every conv but the first, when drawn (layernorm under a gradient penalty); Linear(4*4*4F -> 1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gpbench.errors import ConfigError
from gpbench.models.layers import ConvTranspose2dSame, Conv2dSame, Crop, LeakyReLU, Reshape, linear
from gpbench.models.zoo import CRITIC_NORMS, NOISE_DIM, norm_layer, output_activation

NONLINEARITIES = ("relu", "leaky_relu", "softplus", "tanh")
# Table 4 of the paper, for the generator and (independently) the critic
PAPER_SPACE = {"nonlinearity": NONLINEARITIES, "depth": (4, 8, 12, 20), "batchnorm": (True, False),
               "filters": (32, 64, 128)}
# A CPU reduction (said in every caption that uses it): a quarter of the filters, depth up to 12
CPU_SPACE = {"nonlinearity": NONLINEARITIES, "depth": (4, 8, 12), "batchnorm": (True, False), "filters": (8, 16, 32)}
SPACES = {"paper": PAPER_SPACE, "cpu": CPU_SPACE}
RESAMPLING_LAYERS = 3              # 4 -> 8 -> 16 -> 32 (or 28) and back


class ShiftedSoftplus(nn.Module):
    """softplus(2x + 2) / 2 - 1, Table 4's smooth ReLU (through (-1, ~0) like the others' range)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(2 * x + 2) / 2 - 1


def nonlinearity(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": LeakyReLU(), "softplus": ShiftedSoftplus(), "tanh": nn.Tanh()}[name]


def draw_architecture(sweep_seed: int, index: int, space: str = "cpu") -> dict:
    """Architecture ``index`` of the sweep ``sweep_seed``: {"generator": {...}, "critic": {...}}, each with one
    value of every setting of the space. The same (seed, index, space) gives the same draw on every machine."""
    if space not in SPACES:
        raise ConfigError(f"random architecture space {space!r}: allowed {', '.join(SPACES)}")
    for name, value in (("sweep seed", sweep_seed), ("index", index)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"random architecture {name}: expected a whole number >= 0, got {value!r}")
    rng = np.random.Generator(np.random.PCG64([sweep_seed, index]))
    return {net: {key: _plain(values[int(rng.integers(len(values)))]) for key, values in SPACES[space].items()}
            for net in ("generator", "critic")}


def _plain(value):
    return value if isinstance(value, str) else bool(value) if isinstance(value, (bool, np.bool_)) else int(value)


def extra_layers(depth: int) -> list[int]:
    """The 3x3 stride-1 convs at each of the three resolutions, smallest first: depth - 3 spread evenly, the
    remainder to the smallest resolutions."""
    extra = depth - RESAMPLING_LAYERS
    return [extra // RESAMPLING_LAYERS + (1 if i < extra % RESAMPLING_LAYERS else 0) for i in range(RESAMPLING_LAYERS)]


class RandomGenerator(nn.Sequential):
    def __init__(self, spec: dict, size: int, channels: int, output: str):
        filters, norm = spec["filters"], "batchnorm" if spec["batchnorm"] else None
        widths = [4 * filters, 2 * filters, filters]
        layers = [linear(NOISE_DIM, 4 * 4 * widths[0]), Reshape(widths[0], 4, 4), norm_layer(norm, widths[0]),
                  nonlinearity(spec["nonlinearity"])]
        for stage, (width, extra) in enumerate(zip(widths, extra_layers(spec["depth"]))):
            for _ in range(extra):
                layers += [Conv2dSame(width, width, 3), norm_layer(norm, width), nonlinearity(spec["nonlinearity"])]
            if stage < len(widths) - 1:
                layers += [ConvTranspose2dSame(width, widths[stage + 1]), norm_layer(norm, widths[stage + 1]),
                           nonlinearity(spec["nonlinearity"])] + ([Crop(7)] if stage == 0 and size == 28 else [])
        layers += [ConvTranspose2dSame(widths[-1], channels), output_activation(output)]
        super().__init__(*layers)
        self.noise_dim = NOISE_DIM


class RandomCritic(nn.Sequential):
    def __init__(self, spec: dict, channels: int, critic_norm: str):
        filters, norm = spec["filters"], critic_norm if spec["batchnorm"] else None
        widths = [filters, 2 * filters, 4 * filters]
        layers, width_in = [], channels
        for stage, (width, extra) in enumerate(zip(widths, reversed(extra_layers(spec["depth"])))):
            layers += [Conv2dSame(width_in, width, 5, stride=2), norm_layer(norm if stage else None, width),
                       nonlinearity(spec["nonlinearity"])]
            for _ in range(extra):
                layers += [Conv2dSame(width, width, 3), norm_layer(norm, width), nonlinearity(spec["nonlinearity"])]
            width_in = width
        layers += [nn.Flatten(), linear(4 * 4 * widths[-1], 1), nn.Flatten(0)]
        super().__init__(*layers)


IMAGE_SIZES = (32, 28)          # the image sides the drawn nets are built for (the paper: 32x32 ImageNet)


def random_nets(architecture: dict, *, size: int, channels: int, critic_norm: str,
                output: str = "tanh") -> tuple[nn.Module, nn.Module]:
    """(generator, critic) of a drawn architecture for 32x32 or 28x28 images; ``critic_norm`` is what the drawn
    critic batchnorm becomes: "batchnorm", or "layernorm" under a gradient penalty (the paper's Table 4)."""
    if size not in IMAGE_SIZES:
        raise ConfigError(f"image size {size}: random architectures take 32 or 28 pixels (the paper: 32x32 ImageNet)")
    if critic_norm not in CRITIC_NORMS:
        raise ConfigError(f"critic normalisation {critic_norm!r}: allowed {', '.join(CRITIC_NORMS)}")
    return (RandomGenerator(architecture["generator"], size, channels, output),
            RandomCritic(architecture["critic"], channels, critic_norm))


def draw_record(sweep_seed: int, index: int, space: str = "cpu") -> dict:
    """Draw ``index`` of the sweep as one flat row of the table of draws: g_* (generator) then c_* (critic)."""
    return {f"{net[0]}_{key}": value for net, spec in draw_architecture(sweep_seed, index, space).items()
            for key, value in spec.items()}

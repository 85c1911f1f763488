"""MLPs: gan_toy.py's nets (3 He-initialised ReLU layers of DIM, Glorot output) and the deep MLP of Figure 1b."""

from __future__ import annotations

from torch import nn

from gpbench.models.layers import linear


class MLP(nn.Sequential):
    """``depth`` ReLU layers of ``width`` (tflib 'he' init), then a Glorot-initialised linear output."""

    def __init__(self, in_features: int, width: int, out_features: int, depth: int):
        layers: list[nn.Module] = []
        for index in range(depth):
            layers += [linear(in_features if index == 0 else width, width, init="he"), nn.ReLU()]
        layers.append(linear(width, out_features))
        if out_features == 1:
            layers.append(nn.Flatten(0))
        super().__init__(*layers)


def toy_generator(dim: int, depth: int = 3) -> MLP:
    generator = MLP(2, dim, 2, depth)
    generator.noise_dim = 2
    return generator


def toy_critic(dim: int, depth: int = 3) -> MLP:
    return MLP(2, dim, 1, depth)

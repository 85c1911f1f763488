"""Table 1's random architectures: draws pinned to (sweep seed, index), inside their space; nets whose conv layer
count is the drawn depth, at 32 and 28 pixels; the smooth nonlinearity's closed form."""

import math
from collections import Counter

import pytest
import torch
from torch import nn

from gpbench import ConfigError
from gpbench.models.random_architectures import (CPU_SPACE, PAPER_SPACE, ShiftedSoftplus, draw_architecture,
                                                 draw_record, extra_layers, random_nets)


def test_a_draw_is_a_pure_function_of_the_sweep_seed_and_index():
    assert draw_architecture(0, 0) == {   # pinned: numpy's PCG64 stream from the pair (0, 0)
        "generator": {"nonlinearity": "tanh", "depth": 8, "batchnorm": False, "filters": 8},
        "critic": {"nonlinearity": "leaky_relu", "depth": 4, "batchnorm": True, "filters": 8}}
    assert draw_architecture(3, 7, "paper") == draw_architecture(3, 7, "paper")
    assert [draw_record(5, k) for k in range(24)] == [draw_record(5, k) for k in range(24)]
    assert draw_record(0, 0) == {"g_nonlinearity": "tanh", "g_depth": 8, "g_batchnorm": False, "g_filters": 8,
                                 "c_nonlinearity": "leaky_relu", "c_depth": 4, "c_batchnorm": True, "c_filters": 8}
    assert len({str(draw_architecture(0, k)) for k in range(24)}) == 24
    assert draw_architecture(1, 0) != draw_architecture(0, 1)


@pytest.mark.parametrize("space, values", [("paper", PAPER_SPACE), ("cpu", CPU_SPACE)])
def test_draws_cover_the_space_uniformly(space, values):
    draws = [draw_architecture(11, k, space) for k in range(1200)]
    for net in ("generator", "critic"):
        for key, allowed in values.items():
            counts = Counter(draw[net][key] for draw in draws)
            assert set(counts) == set(allowed), (net, key)
            expected = len(draws) / len(allowed)            # 4 sigma of a binomial count
            assert all(abs(n - expected) < 4 * math.sqrt(expected) for n in counts.values()), (net, key, counts)


def conv_layers(net):
    return sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in net.modules())


@pytest.mark.parametrize("size, channels", [(32, 3), (28, 1)])
def test_every_drawn_net_has_its_depth_in_conv_layers_and_the_right_shapes(size, channels):
    torch.manual_seed(0)
    for index in range(12):
        architecture = draw_architecture(2, index, "cpu")
        generator, critic = random_nets(architecture, size=size, channels=channels, critic_norm="layernorm",
                                        output="tanh")
        assert conv_layers(generator) == architecture["generator"]["depth"]
        assert conv_layers(critic) == architecture["critic"]["depth"]
        images = generator(torch.randn(2, 128))
        assert images.shape == (2, channels, size, size) and critic(images).shape == (2,)
        has_norm = any(isinstance(m, nn.GroupNorm) for m in critic.modules())
        assert has_norm == architecture["critic"]["batchnorm"]            # layernorm under a gradient penalty


def test_depth_is_spread_over_the_resolutions_smallest_first():
    assert extra_layers(4) == [1, 0, 0] and extra_layers(12) == [3, 3, 3] and extra_layers(20) == [6, 6, 5]


def test_the_smooth_nonlinearity_is_softplus_of_2x_plus_2_halved_minus_1():
    x = torch.tensor([-3.0, 0.0, 2.0])
    expected = torch.log1p(torch.exp(2 * x + 2)) / 2 - 1
    assert torch.allclose(ShiftedSoftplus()(x), expected)


def test_bad_draws_are_config_errors():
    for args, message in (((0, 0, "huge"), "space 'huge'"), ((-1, 0), "sweep seed"), ((0, True), "index")):
        with pytest.raises(ConfigError, match=message):
            draw_architecture(*args)
    with pytest.raises(ConfigError, match="32 or 28"):
        random_nets(draw_architecture(0, 0), size=64, channels=3, critic_norm="batchnorm")

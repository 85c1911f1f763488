"""Figure 2's architectures (gpbench/models/zoo.py): shapes at every size, the paper's layer count, the
normalisation each method asks for, tflib's init, the gate, and per-sample critics under layernorm."""

import pytest
import torch
from torch import nn

from gpbench import ConfigError
from gpbench.models.zoo import FIGURE2_ROWS, Gate, figure2_nets


@pytest.mark.parametrize("row", FIGURE2_ROWS)
@pytest.mark.parametrize("size, channels, output", [(64, 3, "tanh"), (32, 3, "tanh"), (28, 1, "sigmoid")])
def test_every_row_maps_noise_to_images_and_images_to_one_score_each(row, size, channels, output):
    torch.manual_seed(0)
    generator, critic = figure2_nets(row, size=size, channels=channels, dim=8, critic_norm="layernorm",
                                     output=output, blocks=1)
    images = generator(torch.randn(3, generator.noise_dim))
    assert images.shape == (3, channels, size, size)
    low, high = (-1, 1) if output == "tanh" else (0, 1)
    assert low <= images.min() and images.max() <= high
    assert critic(images).shape == (3,)


def layers_on_the_main_path(net):
    """Convs, deconvs and linears outside the residual shortcuts."""
    shortcuts = {id(m) for block in net.modules() if hasattr(block, "shortcut") for m in block.shortcut.modules()}
    return sum(1 for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
               and id(m) not in shortcuts)


def test_the_resnet_at_64_pixels_has_the_papers_101_layers_and_fewer_blocks_make_it_shallower():
    generator, critic = figure2_nets("resnet", size=64, channels=3, dim=8, critic_norm="batchnorm")
    assert layers_on_the_main_path(generator) == layers_on_the_main_path(critic) == 101
    shallow, _ = figure2_nets("resnet", size=32, channels=3, dim=8, critic_norm="batchnorm", blocks=2)
    assert layers_on_the_main_path(shallow) == 1 + 3 * (3 * 2 + 3 + 1) + 1      # 3 stages, 2 blocks each, 1 at the top


def test_the_critic_normalisation_follows_the_method_and_the_no_norm_row_has_none():
    for row in ("dcgan", "gated", "tanh", "resnet", "crippled-g", "fc-g"):
        _, penalised = figure2_nets(row, size=32, channels=3, dim=8, critic_norm="layernorm", blocks=1)
        _, clipped = figure2_nets(row, size=32, channels=3, dim=8, critic_norm="batchnorm", blocks=1)
        assert any(isinstance(m, nn.GroupNorm) for m in penalised.modules()), row
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in penalised.modules()), row
        assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in clipped.modules()), row
    generator, critic = figure2_nets("no-norm", size=64, channels=3, dim=8, critic_norm="layernorm")
    for net in (generator, critic):
        assert not any(isinstance(m, (nn.GroupNorm, nn.modules.batchnorm._BatchNorm)) for m in net.modules())
    crippled, _ = figure2_nets("crippled-g", size=64, channels=3, dim=8, critic_norm="batchnorm")
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in crippled.modules())
    assert {m.out_channels for m in crippled.modules() if isinstance(m, nn.ConvTranspose2d)} == {8, 3}  # DIM each


def test_dcgan_rows_use_tflibs_weights_stdev_of_0_02_and_the_gated_rows_the_default_init():
    torch.manual_seed(0)
    generator, critic = figure2_nets("dcgan", size=64, channels=3, dim=16, critic_norm="batchnorm")
    first = generator[0].weight
    assert first.std().item() == pytest.approx(0.02, rel=0.02)
    assert first.abs().max().item() <= 0.02 * 3 ** 0.5 + 1e-7          # uniform with that std
    assert critic[0].weight.std().item() == pytest.approx(0.02, rel=0.05)
    gated, _ = figure2_nets("gated", size=64, channels=3, dim=16, critic_norm="batchnorm")
    assert gated[0].weight.std().item() == pytest.approx((2 / (128 + 4 * 4 * 8 * 16 * 2)) ** 0.5, rel=0.02)  # Glorot


def test_the_gate_is_sigmoid_of_the_even_channels_times_tanh_of_the_odd():
    x = torch.tensor([[[[0.0]], [[1.0]], [[2.0]], [[-1.0]]]])
    expected = torch.tensor([[[[0.5 * torch.tanh(torch.tensor(1.0))]], [[torch.sigmoid(torch.tensor(2.0)) *
                                                                          torch.tanh(torch.tensor(-1.0))]]]])
    assert torch.allclose(Gate()(x), expected)


@pytest.mark.parametrize("row", ["dcgan", "resnet", "gated"])
def test_a_layernorm_critic_scores_each_sample_on_its_own(row):
    """The gradient penalty differentiates D(x_i) by x_i: no other sample may enter (batchnorm would mix them)."""
    torch.manual_seed(0)
    _, critic = figure2_nets(row, size=32, channels=3, dim=8, critic_norm="layernorm", blocks=1)
    images = torch.randn(4, 3, 32, 32, requires_grad=True)
    gradient, = torch.autograd.grad(critic(images)[0], images)
    assert gradient[0].abs().sum() > 0 and gradient[1:].abs().sum() == 0


def test_bad_rows_sizes_and_norms_are_config_errors():
    for kwargs, message in (({"row": "vgg"}, "not one of Figure 2's"), ({"size": 48}, "image size 48"),
                            ({"critic_norm": "spectral"}, "critic normalisation"), ({"blocks": 0}, "blocks")):
        with pytest.raises(ConfigError, match=message):
            figure2_nets(**{"row": "dcgan", "size": 32, "channels": 3, "dim": 8, "critic_norm": "batchnorm",
                            **kwargs})

"""Gulrajani architectures: shapes, parameter counts, tflib init, TF SAME alignment, batchnorm placement."""

import math

import pytest
import torch
from torch import nn

from gpbench.paper import preset
from gpbench.training.config import model_options
from gpbench.models import build
from gpbench.models.layers import Conv2dSame, ConvTranspose2dSame, linear, tf_same_padding


def build_preset(arch, method, **overrides):
    """The nets of a method preset, as the trainer builds them from a resolved config."""
    return build(arch, **model_options({**preset(arch, method), **overrides}))


def count(module):
    return sum(parameter.numel() for parameter in module.parameters())


def dcgan_counts(dim, channels, g_bn, d_bn, mnist):
    """Parameter counts written out from gan_mnist.py / gan_cifar.py layer by layer."""
    g = 128 * 64 * dim + 64 * dim                       # Linear 128 -> 4*4*4*DIM
    g += 2 * 64 * dim * g_bn                            # BN over the 4*4*4*DIM units
    g += 25 * 4 * dim * 2 * dim + 2 * dim + 2 * (2 * dim) * g_bn
    g += 25 * 2 * dim * dim + dim + 2 * dim * g_bn
    g += 25 * dim * channels + channels
    d = 25 * channels * dim + dim
    d += 25 * dim * 2 * dim + 2 * dim + 2 * 2 * dim * d_bn
    d += 25 * 2 * dim * 4 * dim + 4 * dim + 2 * 4 * dim * d_bn
    d += 64 * dim + 1
    return g, d


@pytest.mark.parametrize("arch, method, sample_shape, g_bn, d_bn", [
    ("mnist", "wgan-gp", (1, 28, 28), False, False),
    ("mnist", "wgan-clip", (1, 28, 28), True, True),
    ("mnist", "ns-gan", (1, 28, 28), True, False),       # DCGAN's G batchnorm (config.MNIST_GAN_GENERATOR_BATCHNORM)
    ("cifar10", "wgan-gp", (3, 32, 32), True, False),
    ("cifar10", "wgan-clip", (3, 32, 32), True, True),
    ("cifar10", "ns-gan", (3, 32, 32), True, True),
])
def test_dcgan_shapes_counts_and_batchnorm_placement(arch, method, sample_shape, g_bn, d_bn):
    generator, critic = build_preset(arch, method, dim=8)
    images = generator(torch.randn(5, generator.noise_dim))
    assert images.shape == (5, *sample_shape)
    assert critic(images).shape == (5,)
    assert (count(generator), count(critic)) == dcgan_counts(8, sample_shape[0], g_bn, d_bn, arch == "mnist")
    has_bn = [any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()) for net in (generator, critic)]
    assert has_bn == [g_bn, d_bn]


def test_output_ranges_mnist_sigmoid_cifar_tanh():
    mnist_images = build_preset("mnist", "wgan-gp", dim=8)[0](torch.randn(16, 128) * 50)
    cifar_images = build_preset("cifar10", "wgan-gp", dim=8)[0](torch.randn(16, 128) * 50)
    assert mnist_images.min() >= 0 and mnist_images.max() <= 1
    assert cifar_images.min() >= -1 and cifar_images.max() <= 1 and cifar_images.min() < 0


def test_toy_and_deep_mlp_shapes_and_counts():
    generator, critic = build_preset("toy", "wgan-gp")
    assert count(generator) == (2 * 512 + 512) + 2 * (512 * 512 + 512) + (512 * 2 + 2)
    assert count(critic) == (2 * 512 + 512) + 2 * (512 * 512 + 512) + (512 + 1)
    assert critic(generator(torch.randn(7, 2))).shape == (7,)
    _, deep = build_preset("deep-mlp", "wgan-clip", dim=16)
    assert sum(isinstance(m, nn.Linear) for m in deep.modules()) == 13   # 12 ReLU layers + output


def test_resnet_shapes_and_no_critic_normalisation():
    generator, critic = build_preset("cifar10-resnet", "wgan-gp", dim=16)
    images = generator(torch.randn(3, 128))
    assert images.shape == (3, 3, 32, 32) and critic(images).shape == (3,)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in generator.modules()) == 7   # 2 per up-block + output


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (28, 5, 2, (1, 2)), (14, 5, 2, (1, 2)), (7, 5, 2, (2, 2)), (32, 3, 1, (1, 1)), (32, 1, 1, (0, 0))])
def test_tf_same_padding(size, kernel, stride, expected):
    assert tf_same_padding(size, kernel, stride) == expected


def test_deconv_is_the_adjoint_of_the_same_conv_like_tf_conv2d_transpose():
    """TF's conv2d_transpose(SAME) is the gradient of conv2d(SAME): <conv(x), y> = <deconv(y), x>."""
    torch.manual_seed(0)
    conv = Conv2dSame(3, 4, 5, stride=2).double()
    deconv = ConvTranspose2dSame(4, 3).double()
    with torch.no_grad():
        deconv.weight.copy_(conv.weight)      # (out, in, k, k) of the conv = (in, out, k, k) of its adjoint
        conv.bias.zero_()
        deconv.bias.zero_()
    x, y = torch.randn(2, 3, 14, 14, dtype=torch.float64), torch.randn(2, 4, 7, 7, dtype=torch.float64)
    assert deconv(y).shape == x.shape
    assert (conv(x) * y).sum().item() == pytest.approx((deconv(y) * x).sum().item(), rel=1e-10)


@pytest.mark.parametrize("layer, std", [
    (lambda: linear(300, 500), math.sqrt(2 / 800)),
    (lambda: linear(300, 500, init="he"), math.sqrt(2 / 300)),
    (lambda: Conv2dSame(64, 128, 5, stride=2), math.sqrt(4 / (64 * 25 + 128 * 25 / 4))),
    (lambda: Conv2dSame(64, 128, 1, he_init=False), math.sqrt(2 / (64 + 128))),
    (lambda: ConvTranspose2dSame(128, 64), math.sqrt(4 / (128 * 25 / 4 + 64 * 25))),
])
def test_tflib_uniform_init_has_the_target_std_and_zero_bias(layer, std):
    torch.manual_seed(0)
    module = layer()
    weight = module.weight.detach()
    assert weight.std().item() == pytest.approx(std, rel=0.02)
    assert weight.abs().max().item() <= std * math.sqrt(3) + 1e-7
    assert module.bias.abs().max().item() == 0.0

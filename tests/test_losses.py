"""Game losses and weight clipping against closed forms (docs/penalties.md, "Game losses")."""

import math

import pytest
import torch
from torch import nn

from gpbench import ConfigError
from gpbench.training.losses import WeightClipping, discriminator_loss, generator_loss, wasserstein_estimate

REAL = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
FAKE = torch.tensor([-3.0, 0.25], dtype=torch.float64)


def sigmoid(s):
    return 1 / (1 + math.exp(-s))


def mean(values):
    return sum(values) / len(values)


def test_wgan_losses_and_wasserstein_estimate():
    assert discriminator_loss("wgan", REAL, FAKE).item() == pytest.approx(mean([-3.0, 0.25]) - mean([2.0, -1.0, 0.5]))
    assert generator_loss("wgan", FAKE).item() == pytest.approx(-mean([-3.0, 0.25]))
    assert wasserstein_estimate(REAL, FAKE).item() == pytest.approx(-discriminator_loss("wgan", REAL, FAKE).item())


@pytest.mark.parametrize("game", ["mm", "ns"])
def test_bce_critic_loss_is_the_same_for_mm_and_ns(game):
    expected = mean([-math.log(sigmoid(s)) for s in REAL]) + mean([-math.log(1 - sigmoid(s)) for s in FAKE])
    assert discriminator_loss(game, REAL, FAKE).item() == pytest.approx(expected, rel=1e-12)
    assert discriminator_loss(game, REAL, FAKE, halve=True).item() == pytest.approx(expected / 2, rel=1e-12)


def test_generator_losses_minmax_and_non_saturating():
    assert generator_loss("mm", FAKE).item() == pytest.approx(mean([math.log(1 - sigmoid(s)) for s in FAKE]), rel=1e-12)
    assert generator_loss("ns", FAKE).item() == pytest.approx(mean([-math.log(sigmoid(s)) for s in FAKE]), rel=1e-12)


def test_one_sided_label_smoothing_changes_only_the_real_target():
    expected = mean([-(0.9 * math.log(sigmoid(s)) + 0.1 * math.log(1 - sigmoid(s))) for s in REAL]) + \
        mean([-math.log(1 - sigmoid(s)) for s in FAKE])
    assert discriminator_loss("ns", REAL, FAKE, real_target=0.9).item() == pytest.approx(expected, rel=1e-12)


def test_noisy_labels_flip_with_the_given_probability():
    flipped = mean([-math.log(1 - sigmoid(s)) for s in REAL]) + mean([-math.log(sigmoid(s)) for s in FAKE])
    assert discriminator_loss("ns", REAL, FAKE, flip_probability=1.0).item() == pytest.approx(flipped, rel=1e-12)
    torch.manual_seed(0)
    scores = torch.zeros(20000, dtype=torch.float64)
    # with zero scores BCE is log 2 whatever the target, so use a large score: a flipped real label costs ~10
    loss = discriminator_loss("ns", scores + 10, scores - 1e6, flip_probability=0.25)
    assert loss.item() == pytest.approx(0.25 * 10 + 0.25 * 1e6, rel=0.05)


def test_least_squares_losses_of_gan_64x64s_lsgan_mode():
    """D: (mean (s_x - 1)^2 + mean s_g^2) / 2; G: mean (s_g - 1)^2 (Mao et al. 2017, a-b-c = 0-1-1)."""
    expected = (mean([(s - 1) ** 2 for s in (2.0, -1.0, 0.5)]) + mean([s**2 for s in (-3.0, 0.25)])) / 2
    assert discriminator_loss("ls", REAL, FAKE).item() == pytest.approx(expected, rel=1e-12)
    assert generator_loss("ls", FAKE).item() == pytest.approx(mean([(s - 1) ** 2 for s in (-3.0, 0.25)]), rel=1e-12)
    with pytest.raises(ConfigError, match="not to game ls"):
        discriminator_loss("ls", REAL, FAKE, halve=True)


def test_bad_game_and_wgan_with_label_tricks_are_config_errors():
    with pytest.raises(ConfigError, match=r"^game: 'lsgan' is not allowed; allowed: mm, ns, wgan, ls, rp$"):
        generator_loss("lsgan", FAKE)
    with pytest.raises(ConfigError, match="wgan"):
        discriminator_loss("wgan", REAL, FAKE, real_target=0.9)
    with pytest.raises(ConfigError, match="flip_probability"):
        discriminator_loss("ns", REAL, FAKE, flip_probability=1.5)


def test_the_ns_gan_presets_halving_under_another_game_is_named_as_the_presets():
    from gpbench.training.config import resolve

    with pytest.raises(ConfigError, match="^halve_d_loss: true: apply to the ns/mm games only, not to game ls "
                                          r"\(the ns-gan and mm-gan presets set halve_d_loss: true; set it to false"):
        resolve({"method": "ns-gan", "dataset": "8gaussians", "game": "ls"})
    assert resolve({"method": "ns-gan", "dataset": "8gaussians", "game": "ls", "halve_d_loss": False})["game"] == "ls"


def critic_with_batchnorm():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for parameter in critic.parameters():
            parameter.uniform_(-1, 1)
    return critic


def test_weight_clipping_clamps_every_parameter_including_norm_affine():
    critic = critic_with_batchnorm()
    WeightClipping(0.01).clamp(critic)
    for parameter in critic.parameters():
        assert parameter.abs().max().item() <= 0.01
    assert critic[1].weight.abs().max().item() == pytest.approx(0.01)


@pytest.mark.parametrize("placement, clipped_before, clipped_after", [("after", False, True), ("before", True, False)])
def test_weight_clipping_placement(placement, clipped_before, clipped_after):
    critic = critic_with_batchnorm()
    clipping = WeightClipping(0.25, placement)
    clipping.before_step(critic)
    assert (max(p.abs().max().item() for p in critic.parameters()) <= 0.25) == clipped_before
    clipping.after_step(critic)
    assert (max(p.abs().max().item() for p in critic.parameters()) <= 0.25) == (clipped_before or clipped_after)


@pytest.mark.parametrize("clip, placement", [(-0.01, "after"), (0, "after"), (0.01, "during")])
def test_weight_clipping_rejects_bad_settings(clip, placement):
    with pytest.raises(ConfigError):
        WeightClipping(clip, placement)


def test_the_relativistic_pairing_game_pairs_each_fake_with_a_real_score():
    """R3GAN's RpGAN: critic mean softplus(s_g - s_x), generator mean softplus(s_x - s_g), the i-th with the i-th."""
    import torch.nn.functional as F

    from gpbench.training.losses import discriminator_loss, generator_loss

    real, fake = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 1.0, 0.5])
    assert discriminator_loss("rp", real, fake).item() == pytest.approx(
        (F.softplus(torch.tensor(-1.0)) + F.softplus(torch.tensor(3.0)) + F.softplus(torch.tensor(0.0))).item() / 3)
    assert generator_loss("rp", fake, real).item() == pytest.approx(
        (F.softplus(torch.tensor(1.0)) + F.softplus(torch.tensor(-3.0)) + F.softplus(torch.tensor(0.0))).item() / 3)
    # shifting every score by the same amount changes neither: only differences count
    assert discriminator_loss("rp", real + 5, fake + 5).item() == pytest.approx(discriminator_loss("rp", real, fake).item())
    with pytest.raises(ValueError, match="real_scores"):
        generator_loss("rp", fake)

"""Game losses on raw critic scores and weight clipping (shared/spec/penalties.md, "Game losses").

Scores are logits (no sigmoid). BCE(s, t) is binary cross-entropy with logits, averaged over the batch.
WGAN sign convention: the critic minimises mean D(g) - mean D(x), so the Wasserstein estimate is
-d_loss without penalty = mean D(x) - mean D(g).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gpbench.errors import ConfigError

GAMES = ("mm", "ns", "wgan")
CLIP_PLACEMENTS = ("after", "before")


def _check_game(game: str) -> None:
    if game not in GAMES:
        raise ConfigError(f"game: {game!r} is not allowed; allowed: {', '.join(GAMES)}")


def _bce(scores: torch.Tensor, targets: torch.Tensor | float) -> torch.Tensor:
    if not torch.is_tensor(targets):
        targets = torch.full_like(scores, targets)
    return F.binary_cross_entropy_with_logits(scores, targets)


def discriminator_loss(game: str, real_scores: torch.Tensor, fake_scores: torch.Tensor, *,
                       real_target: float = 1.0, flip_probability: float = 0.0,
                       halve: bool = False) -> torch.Tensor:
    """Critic loss without penalty.

    mm / ns: BCE(s_x, real_target) + BCE(s_g, 0), halved when ``halve`` (Gulrajani's ``dcgan`` mode);
    ``real_target`` < 1 is one-sided label smoothing (0.9 is the usual choice); ``flip_probability`` p flips
    each label t -> 1 - t with probability p (noisy labels).  wgan: mean s_g - mean s_x.
    """
    _check_game(game)
    if game == "wgan":
        if real_target != 1.0 or flip_probability or halve:
            raise ConfigError("label smoothing, noisy labels and halving apply to the mm/ns games, not to wgan")
        return fake_scores.mean() - real_scores.mean()
    if not 0.0 <= flip_probability <= 1.0:
        raise ConfigError(f"flip_probability: {flip_probability!r} must lie in [0, 1]")
    real_targets = torch.full_like(real_scores, real_target)
    fake_targets = torch.zeros_like(fake_scores)
    if flip_probability:
        real_targets = torch.where(torch.rand_like(real_targets) < flip_probability, 1.0 - real_targets, real_targets)
        fake_targets = torch.where(torch.rand_like(fake_targets) < flip_probability, 1.0 - fake_targets, fake_targets)
    loss = _bce(real_scores, real_targets) + _bce(fake_scores, fake_targets)
    return loss / 2 if halve else loss


def generator_loss(game: str, fake_scores: torch.Tensor) -> torch.Tensor:
    """mm: -BCE(s_g, 0) = mean log(1 - sigmoid(s_g)); ns: BCE(s_g, 1); wgan: -mean s_g."""
    _check_game(game)
    if game == "wgan":
        return -fake_scores.mean()
    if game == "mm":
        return -F.softplus(fake_scores).mean()
    return _bce(fake_scores, 1.0)


def wasserstein_estimate(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """mean D(x) - mean D(g): the critic's estimate of W(P_r, P_g) (Gulrajani Eq. 2, negated critic loss)."""
    return real_scores.mean() - fake_scores.mean()


class WeightClipping:
    """Clamp every critic parameter (norm-layer affine ones included) to [-c, c] (Arjovsky et al. 2017).

    ``placement="after"`` clips after each critic optimizer step (Gulrajani's code, the default);
    ``"before"`` clips before it (Arjovsky's code, martinarjovsky/WassersteinGAN #50).
    """

    def __init__(self, clip: float = 0.01, placement: str = "after"):
        if not isinstance(clip, (int, float)) or isinstance(clip, bool) or clip <= 0:
            raise ConfigError(f"clip: expected a number > 0, got {clip!r}")
        if placement not in CLIP_PLACEMENTS:
            raise ConfigError(f"clip_placement: {placement!r} is not allowed; allowed: {', '.join(CLIP_PLACEMENTS)}")
        self.clip = float(clip)
        self.placement = placement

    @torch.no_grad()
    def clamp(self, critic: nn.Module) -> None:
        for parameter in critic.parameters():
            parameter.clamp_(-self.clip, self.clip)

    def before_step(self, critic: nn.Module) -> None:
        if self.placement == "before":
            self.clamp(critic)

    def after_step(self, critic: nn.Module) -> None:
        if self.placement == "after":
            self.clamp(critic)

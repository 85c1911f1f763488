"""Game losses on raw critic scores, weight clipping, and the loss object that owns the penalty
(docs/penalties.md, "Game losses").

Scores are logits (no sigmoid). BCE(s, t) is binary cross-entropy with logits, averaged over the batch.
WGAN sign convention: the critic minimises mean D(g) - mean D(x), so the Wasserstein estimate is
-d_loss without penalty = mean D(x) - mean D(g).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from gpbench.errors import ConfigError
from gpbench.penalties import Penalty, PenaltyTerm
from gpbench.penalties.schedules import is_number

GAMES = ("mm", "ns", "wgan", "ls", "rp")
CLIP_PLACEMENTS = ("after", "before")


def check_game_options(game: str, real_target: float = 1.0, flip_probability: float = 0.0,
                       halve: bool = False) -> None:
    """The game and its label options; smoothing, noisy labels and halving belong to mm/ns only."""
    if game not in GAMES:
        raise ConfigError(f"game: {game!r} is not allowed; allowed: {', '.join(GAMES)}")
    if not is_number(real_target) or not 0.0 < real_target <= 1.0:
        raise ConfigError(f"real_label: expected a number in (0, 1], got {real_target!r}")
    if not is_number(flip_probability) or not 0.0 <= flip_probability <= 1.0:
        raise ConfigError(f"flip_probability: expected a number in [0, 1], got {flip_probability!r}")
    if game not in ("mm", "ns") and (real_target != 1.0 or flip_probability or halve):
        set_here = [text for text, on in ((f"real_label: {real_target}", real_target != 1.0),
                                          (f"flip_probability: {flip_probability}", bool(flip_probability)),
                                          ("halve_d_loss: true", bool(halve))) if on]
        preset = (" (the ns-gan and mm-gan presets set halve_d_loss: true; set it to false with another game, or use "
                  "the lsgan or wgan-gp method)" if halve else "")
        raise ConfigError(f"{', '.join(set_here)}: apply to the ns/mm games only, not to game {game}{preset}")


def check_clipping(clip, placement: str) -> None:
    if not is_number(clip) or not math.isfinite(clip) or clip <= 0:
        raise ConfigError(f"clip: expected a finite number > 0 or null, got {clip!r}")
    if placement not in CLIP_PLACEMENTS:
        raise ConfigError(f"clip_placement: {placement!r} is not allowed; allowed: {', '.join(CLIP_PLACEMENTS)}")


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
    ls (least squares, Mao et al. 2017, as gan_64x64.py's `lsgan` mode): (mean (s_x - 1)^2 + mean s_g^2) / 2.
    rp (relativistic pairing, Jolicoeur-Martineau 2019, as R3GAN): mean softplus(s_g - s_x), the i-th fake paired
    with the i-th real sample.
    """
    check_game_options(game, real_target, flip_probability, halve)
    if game == "wgan":
        return fake_scores.mean() - real_scores.mean()
    if game == "ls":
        return ((real_scores - 1.0).square().mean() + fake_scores.square().mean()) / 2
    if game == "rp":
        count = min(len(real_scores), len(fake_scores))
        return F.softplus(fake_scores[:count] - real_scores[:count]).mean()
    real_targets = torch.full_like(real_scores, real_target)
    fake_targets = torch.zeros_like(fake_scores)
    if flip_probability:
        real_targets = torch.where(torch.rand_like(real_targets) < flip_probability, 1.0 - real_targets, real_targets)
        fake_targets = torch.where(torch.rand_like(fake_targets) < flip_probability, 1.0 - fake_targets, fake_targets)
    loss = _bce(real_scores, real_targets) + _bce(fake_scores, fake_targets)
    return loss / 2 if halve else loss


def generator_loss(game: str, fake_scores: torch.Tensor, real_scores: torch.Tensor | None = None) -> torch.Tensor:
    """mm: -BCE(s_g, 0) = mean log(1 - sigmoid(s_g)); ns: BCE(s_g, 1); wgan: -mean s_g; ls: mean (s_g - 1)^2;
    rp: mean softplus(s_x - s_g), paired (the only game that needs ``real_scores``)."""
    check_game_options(game)
    if game == "rp":
        if real_scores is None:
            raise ValueError("the rp game's generator loss pairs each fake score with a real one: pass real_scores")
        count = min(len(real_scores), len(fake_scores))
        return F.softplus(real_scores[:count] - fake_scores[:count]).mean()
    if game == "wgan":
        return -fake_scores.mean()
    if game == "ls":
        return (fake_scores - 1.0).square().mean()
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
        check_clipping(clip, placement)
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


class GanLoss:
    """The game's critic and generator losses with the penalty they carry (the stylegan2 loss-object shape).

    ``critic_loss`` / ``generator_loss`` return (the total to back-propagate, detached statistics). The
    penalty reuses the loss's forward pass where it can (R1/R2) and reports its gradient norm in the
    statistics ("gradient_norm", None when it was not evaluated). ``autocast`` wraps the forward passes
    (bf16 autocast or a null context); losses are taken in float32.
    """

    def __init__(self, game: str, penalty: Penalty, *, real_label: float = 1.0, flip_probability: float = 0.0,
                 halve_d_loss: bool = False, autocast=contextlib.nullcontext):
        check_game_options(game, real_label, flip_probability, halve_d_loss)
        self.game = game
        self.penalty = penalty
        self.real_label = real_label
        self.flip_probability = flip_probability
        self.halve_d_loss = halve_d_loss
        self.autocast = autocast

    @property
    def critic_needs_generator_graph(self) -> bool:
        return self.penalty.needs_generator_graph

    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return discriminator_loss(self.game, real_scores.float(), fake_scores.float(), real_target=self.real_label,
                                  flip_probability=self.flip_probability, halve=self.halve_d_loss)

    def critic_loss(self, critic: nn.Module, generator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    step: int, values: dict | None = None) -> tuple[torch.Tensor, dict]:
        """``values``: the penalty's schedule values (``Penalty.evaluate``); None = at ``step``."""
        penalised = self.penalty.on_critic_loss
        if penalised:
            real, fake = self.penalty.prepare(real, fake, step)
        with self.autocast():
            real_scores, fake_scores = critic(real), critic(fake)
            d_loss = self.discriminator_loss(real_scores, fake_scores)
            term = (self.penalty.evaluate(critic, real, fake, generator, step=step, real_scores=real_scores,
                                          fake_scores=fake_scores, values=values) if penalised
                    else PenaltyTerm(d_loss.new_zeros(())))
        statistics = {"d_loss": d_loss.detach(), "penalty": term.value.detach(),
                      "wasserstein_estimate": wasserstein_estimate(real_scores, fake_scores).detach(),
                      "gradient_norm": term.gradient_norm}
        return d_loss + term.value, statistics

    def generator_loss(self, critic: nn.Module, generator: nn.Module, fake: torch.Tensor, real: torch.Tensor,
                       step: int, values: dict | None = None) -> tuple[torch.Tensor, dict]:
        """``fake`` = G(z) attached to G's graph; ``real`` = the last critic batch, for a penalty on g_loss."""
        with self.autocast():
            real_scores = critic(real[:len(fake)].detach()).float().detach() if self.game == "rp" else None
            g_loss = generator_loss(self.game, critic(fake).float(), real_scores)
            term = PenaltyTerm(g_loss.new_zeros(()))
            if self.penalty.on_generator_loss:
                count = min(len(real), len(fake))
                term = self.penalty.evaluate(critic, real[:count].detach(), fake[:count], generator, step=step,
                                             values=values)
        return g_loss + term.value, {"g_loss": g_loss.detach(), "gradient_norm": term.gradient_norm}

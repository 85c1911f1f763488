"""Penalties on the critic's per-sample input gradients (docs/penalties.md, "Penalty kinds")."""

from __future__ import annotations

import torch

from gpbench.penalties.base import Penalty
from gpbench.penalties.gradients import (dragan_points, input_gradient, interpolate, per_sample_squared_norm,
                                         safe_sqrt, scores_gradient)

INTERPOLATES = "x^ = x + a(g - x), a ~ U[0,1]"


class InputGradientPenalty(Penalty):
    """A shape applied to the squared per-sample input-gradient norms at points the subclass picks."""

    default_lambda = 10.0

    def points(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return interpolate(real, fake)

    def shape(self, squared_norms: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def gradient(self, critic, real, fake, real_scores, fake_scores) -> torch.Tensor:
        return input_gradient(critic, self.points(real, fake).detach())

    def term(self, critic, real, fake, generator, values, real_scores, fake_scores):
        squared_norms = per_sample_squared_norm(self.gradient(critic, real, fake, real_scores, fake_scores))
        return self.shape(squared_norms).mean(), safe_sqrt(squared_norms.detach()).mean()


class WganGP(InputGradientPenalty):
    """Gulrajani et al. 2017, Eq. 3: (||grad D(x^)|| - 1)^2 at random interpolates."""

    kind = "wgan-gp"
    evaluated_at = INTERPOLATES
    formula = "lambda * mean (|grad| - 1)^2"
    target_norm = 1.0

    def shape(self, squared_norms):
        return (safe_sqrt(squared_norms) - 1.0).square()


class WganLP(InputGradientPenalty):
    """One-sided penalty (Petzka et al. 2018; Gulrajani App. C): max(0, ||grad|| - 1)^2."""

    kind = "wgan-lp"
    evaluated_at = INTERPOLATES
    formula = "lambda * mean max(0, |grad| - 1)^2"
    target_norm = 1.0
    one_sided = True

    def shape(self, squared_norms):
        return torch.relu(safe_sqrt(squared_norms) - 1.0).square()


class ZeroGP(InputGradientPenalty):
    """Zero-centred penalty at interpolates: ||grad||^2."""

    kind = "zero-gp"
    evaluated_at = INTERPOLATES
    formula = "lambda * mean |grad|^2"

    def shape(self, squared_norms):
        return squared_norms


class R1(InputGradientPenalty):
    """Mescheder et al. 2018: (1/2) ||grad D(x)||^2 on real data (the paper's gamma/2).

    It differentiates the loss's own forward pass on each batch it regularises when :meth:`prepare` made that
    batch require grad, saving one critic forward per step (not with ``fraction`` < 1, which evaluates a
    sub-batch). ``batches``: the batches regularised, each adding (1/2) mean ||grad D||^2 on it."""

    kind = "r1"
    evaluated_at = "real x"
    formula = "lambda/2 * mean |grad|^2"
    batches: tuple[str, ...] = ("real",)

    def prepare(self, real, fake, step):
        if not self.applies_at(step) or self.fraction < 1.0:
            return real, fake
        if "real" in self.batches:
            real = real.requires_grad_(True)
        if "fake" in self.batches:
            fake = fake.detach().requires_grad_(True)
        return real, fake

    def term(self, critic, real, fake, generator, values, real_scores, fake_scores):
        """The critic's input gradient at each regularised batch: from the loss's own forward pass (its scores)
        when the batch was made to require grad before it, else from a forward pass of its own."""
        squared = [per_sample_squared_norm(input_gradient(critic, points.detach())
                                           if scores is None or not points.requires_grad
                                           else scores_gradient(scores, points))
                   for name, points, scores in (("real", real, real_scores), ("fake", fake, fake_scores))
                   if name in self.batches]
        return 0.5 * sum(norms.mean() for norms in squared), safe_sqrt(torch.cat(squared).detach()).mean()


class R2(R1):
    """Like R1, on generated data."""

    kind = "r2"
    evaluated_at = "fake g"
    batches = ("fake",)


class R1R2(R1):
    """R1 and R2 together, as R3GAN regularises its relativistic pairing loss (Huang et al. 2024):
    (1/2) (mean ||grad D(x)||^2 + mean ||grad D(g)||^2)."""

    kind = "r1r2"
    evaluated_at = "real x and fake g"
    formula = "lambda/2 * (mean |grad D(x)|^2 + mean |grad D(g)|^2)"
    batches = ("real", "fake")


class Dragan(WganGP):
    """Kodali et al. 2017 as in compare_gan v1: (||grad|| - 1)^2 around perturbed real data."""

    kind = "dragan"
    evaluated_at = "x + a * 0.5 std(x) u, u ~ U[0,1)"

    def points(self, real, fake):
        return dragan_points(real)

"""Gradient helpers shared by the penalty kinds (docs/penalties.md, "Conventions").

- the per-sample norm spans all non-batch dims of one sample's input gradient (not a per-pixel norm);
- gradients are of the critic's raw output, kept in the graph (``create_graph=True``) so a penalty on them
  trains the critic;
- an epsilon of 1e-12 inside every square root keeps values and parameter gradients finite at zero gradient.
"""

from __future__ import annotations

import torch
from torch import nn

SQRT_EPSILON = 1e-12


def per_sample_squared_norm(gradient: torch.Tensor) -> torch.Tensor:
    """Squared L2 norm of each sample's gradient over all non-batch dims (C, H, W flattened), in at least
    float32 (a bf16 gradient from an autocast forward pass would lose the norm's precision)."""
    return gradient.flatten(1).to(torch.promote_types(gradient.dtype, torch.float32)).square().sum(dim=1)


def safe_sqrt(squared: torch.Tensor) -> torch.Tensor:
    """sqrt(s + 1e-12): finite value and derivative at s = 0 (pytorch/pytorch #2534)."""
    return torch.sqrt(squared + SQRT_EPSILON)


def input_gradient(critic: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """d sum_i D(points_i) / d points, kept in the graph so a penalty on it trains the critic.

    A ``points`` tensor that is part of a graph (e.g. G(z) for a penalty on g_loss) stays in it; a plain
    tensor becomes a leaf that requires grad.
    """
    if not points.requires_grad:
        points = points.detach().requires_grad_(True)
    return scores_gradient(critic(points), points)


def scores_gradient(scores: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """d sum_i scores_i / d points for scores the critic already computed from ``points`` (R1/R2 reuse)."""
    (gradient,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return gradient


def parameter_gradient(output: torch.Tensor, parameters: list[torch.Tensor]) -> list[torch.Tensor]:
    """d output / d each parameter, in the graph; zeros for parameters the output does not depend on."""
    gradients = torch.autograd.grad(output, parameters, create_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, gradients)]


def _per_sample_alpha(real: torch.Tensor) -> torch.Tensor:
    return torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x^ = x + a (g - x), one a ~ U[0, 1] per sample (Gulrajani et al. 2017, Algorithm 1)."""
    real, fake = real.detach(), fake.detach()
    return real + _per_sample_alpha(real) * (fake - real)


def dragan_points(real: torch.Tensor) -> torch.Tensor:
    """x + a (x_p - x), x_p = x + 0.5 std(x) u, u ~ U[0,1)^dims, std over the whole batch (compare_gan v1)."""
    real = real.detach()
    perturbed = real + 0.5 * real.std() * torch.rand_like(real)
    return real + _per_sample_alpha(real) * (perturbed - real)


def margin_norm(gradients: list[torch.Tensor], margin: float) -> torch.Tensor:
    """|| relu(|g| - margin) ||_2 over all the given tensors together (HyperGAN flex)."""
    squared = sum(torch.relu(gradient.abs() - margin).square().sum() for gradient in gradients)
    return safe_sqrt(squared)


def per_sample_margin_norm(gradient: torch.Tensor, margin: float) -> torch.Tensor:
    """|| relu(|g_i| - margin) ||_2 of each sample's input gradient."""
    return safe_sqrt(per_sample_squared_norm(torch.relu(gradient.abs() - margin)))

"""A penalty kind of your own, end to end (docs/penalties.md, "Your own penalty"): an L1 relative of WGAN-GP,
lambda * mean | ||grad D(x^)|| - 1 | at random interpolates x^ (Gulrajani et al. 2017, Eq. 3, with |.| for (.)^2).

    gpbench check-penalty absolute-gp --module examples/absolute_gp.py
    gpbench train configs/examples/25gaussians-absolute-gp.yaml --out runs/absolute-gp

A run config names this file in ``penalty_modules``; a suite config does the same at its top level.
"""

from gpbench.penalties import InputGradientPenalty, register_penalty
from gpbench.penalties.gradients import safe_sqrt


@register_penalty
class AbsoluteGP(InputGradientPenalty):
    kind = "absolute-gp"
    evaluated_at = "interpolates"
    formula = "lambda * mean | |grad| - 1 |"
    default_lambda = 10.0
    target_norm = 1.0

    def shape(self, squared_norms):
        return (safe_sqrt(squared_norms) - 1.0).abs()

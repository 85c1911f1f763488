"""Optimizers as the official scripts ran them; ``OPTIMIZERS`` is the list of choices run configs name."""

from __future__ import annotations

import torch
from torch import nn

from gpbench.errors import ConfigError


class TFRMSprop(torch.optim.Optimizer):
    """TensorFlow 1's RMSPropOptimizer (momentum 0, not centred), as gan_*.py's `wgan` mode used it:
    ms <- decay ms + (1 - decay) g^2 with ms initialised to 1; theta <- theta - lr g / sqrt(ms + eps).
    PyTorch's RMSprop differs: accumulator starts at 0, alpha 0.99, eps 1e-8 outside the root."""

    def __init__(self, params, lr: float, decay: float = 0.9, eps: float = 1e-10):
        super().__init__(params, {"lr": lr, "decay": decay, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state["mean_square"] = torch.ones_like(parameter)
                mean_square = state["mean_square"]
                mean_square.mul_(group["decay"]).addcmul_(parameter.grad, parameter.grad, value=1 - group["decay"])
                parameter.addcdiv_(parameter.grad, (mean_square + group["eps"]).sqrt_(), value=-group["lr"])


OPTIMIZERS = {
    "adam": lambda parameters, lr, betas: torch.optim.Adam(parameters, lr=lr, betas=tuple(betas)),
    "rmsprop-tf": lambda parameters, lr, betas: TFRMSprop(parameters, lr=lr),
    "rmsprop": lambda parameters, lr, betas: torch.optim.RMSprop(parameters, lr=lr),
}


def build_optimizer(name: str, module: nn.Module, lr: float, betas=(0.9, 0.999)) -> torch.optim.Optimizer:
    """One of ``OPTIMIZERS`` over the module's parameters (``betas`` is used by Adam only)."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"optimizer: {name!r} is not allowed; allowed: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](module.parameters(), lr, betas)

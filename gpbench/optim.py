"""Optimizers as the official scripts ran them (gpbench.config names them)."""

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


def build_optimizer(config: dict, module: nn.Module) -> torch.optim.Optimizer:
    name, lr = config["optimizer"], config["lr"]
    if name == "adam":
        return torch.optim.Adam(module.parameters(), lr=lr, betas=tuple(config["betas"]))
    if name == "rmsprop-tf":
        return TFRMSprop(module.parameters(), lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(module.parameters(), lr=lr)
    raise ConfigError(f"optimizer: {name!r} is not allowed; allowed: adam, rmsprop-tf, rmsprop")

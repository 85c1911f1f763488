"""Optimizers as the official scripts ran them; ``OPTIMIZERS`` is the list of choices run configs name.

``capturable=True`` builds them for CUDA-graph capture (docs/engines.md), as every run on a GPU does, whatever
its engine: Adam fused (one kernel per step, its step count on the device), RMSprop capturable; TFRMSprop has
no host state. A learning rate given as a 0-dim tensor is read on the device, so a captured step follows a
schedule set by ``fill_`` before each replay."""

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
                root = (mean_square + group["eps"]).sqrt_()
                if torch.is_tensor(group["lr"]):        # a device learning rate (one rounding more than addcdiv_)
                    parameter.sub_(parameter.grad / root * group["lr"])
                else:
                    parameter.addcdiv_(parameter.grad, root, value=-group["lr"])


OPTIMIZERS = {
    "adam": lambda parameters, lr, betas, capturable: torch.optim.Adam(parameters, lr=lr, betas=tuple(betas),
                                                                       fused=capturable or None, capturable=capturable),
    "rmsprop-tf": lambda parameters, lr, betas, capturable: TFRMSprop(parameters, lr=lr),
    "rmsprop": lambda parameters, lr, betas, capturable: torch.optim.RMSprop(parameters, lr=lr, capturable=capturable),
}


def build_optimizer(name: str, module: nn.Module, lr: float | torch.Tensor, betas=(0.9, 0.999),
                    capturable: bool = False) -> torch.optim.Optimizer:
    """One of ``OPTIMIZERS`` over the module's parameters (``betas`` is used by Adam only)."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"optimizer: {name!r} is not allowed; allowed: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](module.parameters(), lr, betas, capturable)

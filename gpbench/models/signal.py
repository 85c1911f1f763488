"""The back-propagated signal through a critic's layers (Gulrajani et al. Fig. 1b): per linear or convolutional
layer, the norm of a loss's gradient with respect to that layer's output, and with respect to its weights."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

LAYER_TYPES = (nn.Linear, nn.Conv2d)
AT_CLIP_TOLERANCE = 0.01            # a weight is "at +-c" within 1 % of c (Fig. 1b right)


def weight_layers(critic: nn.Module) -> list[nn.Module]:
    return [module for module in critic.modules() if isinstance(module, LAYER_TYPES)]


def at_clip_fraction(weights: np.ndarray, clip: float) -> float:
    """The fraction of ``weights`` within AT_CLIP_TOLERANCE * c of +-c."""
    return float((np.abs(np.abs(weights) - clip) <= AT_CLIP_TOLERANCE * clip).mean())


def layer_gradients(loss: torch.Tensor, outputs: list[torch.Tensor], weights: list[torch.Tensor]
                    ) -> tuple[list[float], list[float]]:
    """Per layer, the norm of d loss / d (that layer's output) and of d loss / d (its weights).

    ``outputs`` holds each layer's pre-activation output of every forward pass that ``loss`` used, in pass
    order (all layers of the first pass, then of the second); a layer's output norm spans all passes."""
    gradients = torch.autograd.grad(loss, outputs + weights, retain_graph=True)
    layers = len(weights)
    output_norms = [float(sum(g.square().sum() for g in gradients[k:len(outputs):layers]).sqrt())
                    for k in range(layers)]
    return output_norms, [float(g.norm()) for g in gradients[len(outputs):]]


class LayerOutputs:
    """Captures every weight layer's output while active: ``with LayerOutputs(critic) as captured: ...``."""

    def __init__(self, critic: nn.Module):
        self.layers = weight_layers(critic)
        self.outputs: list[torch.Tensor] = []
        self._hooks = []

    def __enter__(self) -> "LayerOutputs":
        self._hooks = [layer.register_forward_hook(lambda module, inputs, output: self.outputs.append(output))
                       for layer in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()

    def clear(self) -> None:
        self.outputs.clear()


def output_to_input_factor(critic: nn.Module, inputs: torch.Tensor) -> float:
    """How much of the gradient of mean D(inputs) reaching the last layer's output survives to the first
    layer's output (about 1 for a critic under a gradient penalty; tiny when clipping makes it vanish)."""
    with LayerOutputs(critic) as captured:
        loss = critic(inputs).mean()
        outputs, _ = layer_gradients(loss, list(captured.outputs), [layer.weight for layer in captured.layers])
    return outputs[0] / outputs[-1] if outputs[-1] > 0 else 0.0

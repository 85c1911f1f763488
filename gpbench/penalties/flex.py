"""HyperGAN's gradient-penalty train hook, "flex" (docs/penalties.md, "flex"):
lambda * || relu(|gradients(target, components)| - flex) ||_2."""

from __future__ import annotations

import torch

from gpbench.errors import ConfigError
from gpbench.penalties.base import Penalty, _describe
from gpbench.penalties.gradients import (input_gradient, margin_norm, parameter_gradient, per_sample_margin_norm,
                                         per_sample_squared_norm, safe_sqrt)
from gpbench.penalties.schedules import Schedule, is_number, non_negative_schedule

COMPONENTS = ("discriminator", "generator")
TARGETS = ("discriminator",)
WRT = ("parameters", "inputs")


def one_of(value, allowed: tuple[str, ...], key: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
    return value


def _margin(value, key: str) -> Schedule:
    if not is_number(value) and not isinstance(value, str):
        raise ConfigError(f"{key}: flex must be a number, a schedule string or a list [x_flex, g_flex], got {value!r}")
    return non_negative_schedule(value, key)


def _margins(value) -> tuple[tuple[Schedule, Schedule], bool]:
    """(x margin, g margin), and whether X and G are penalised separately (a list)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"flex: a list must have exactly two entries [x_flex, g_flex], got {list(value)!r}")
        return (_margin(value[0], "flex[0]"), _margin(value[1], "flex[1]")), True
    margin = _margin(value, "flex")
    return (margin, margin), False


def _components(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"components: expected a non-empty list of {', '.join(COMPONENTS)}, got {value!r}")
    for component in value:
        if component not in COMPONENTS:
            raise ConfigError(f"components: unknown component {component!r}; gpbench has: {', '.join(COMPONENTS)}")
    return tuple(dict.fromkeys(value))


class FlexPenalty(Penalty):
    """``wrt="parameters"``: the gradient of the batch-mean critic output w.r.t. the listed components'
    parameters; scalar flex takes one gradient over the stacked batch [x; g], list flex [fx, fg] two (mean D(x)
    with margin fx plus mean D(g) with margin fg). ``wrt="inputs"`` (a gpbench extension): per-sample input
    gradients at x (margin fx) and g (margin fg), the mean of all 2B per-sample margin norms.
    The fake batch is used as given: attached to G's graph (a penalty on g_loss) the penalty trains G too."""

    kind = "flex"
    evaluated_at = "D parameters (or inputs)"
    formula = "lambda * || relu(|grad| - flex) ||_2"
    default_lambda = 1.0
    default_loss = "g_loss"
    options = ("flex", "components", "target", "wrt")
    one_sided = True                     # relu: a norm below the margin costs nothing

    def __init__(self, strength, loss, every=1, fraction=1.0, *, flex: tuple[Schedule, Schedule], separate: bool,
                 components: tuple[str, ...], target: str, wrt: str):
        super().__init__(strength, loss, every, fraction)
        self.flex = flex
        self.separate = separate
        self.components = components
        self.target = target
        self.wrt = wrt

    @classmethod
    def from_options(cls, options, **common):
        margins, separate = _margins(options.get("flex", 0.0))
        return cls(**common, flex=margins, separate=separate,
                   components=_components(options.get("components", list(COMPONENTS))),
                   target=one_of(options.get("target", "discriminator"), TARGETS, "target"),
                   wrt=one_of(options.get("wrt", "parameters"), WRT, "wrt"))

    @property
    def target_norm(self) -> float | None:
        """The x margin when it is a positive constant (a scheduled margin has no one target)."""
        margin = _describe(self.flex[0])
        return float(margin) if is_number(margin) and margin > 0 else None

    @property
    def needs_generator_graph(self) -> bool:
        return self.on_critic_loss and self.wrt == "parameters" and "generator" in self.components

    def term(self, critic, real, fake, generator, values, real_scores, fake_scores):
        real_margin, fake_margin = values["flex[0]"], values["flex[1]"]
        if self.wrt == "inputs":
            real_gradient = input_gradient(critic, real.detach())
            fake_gradient = input_gradient(critic, fake)
            norm = safe_sqrt(torch.cat([per_sample_squared_norm(real_gradient),
                                        per_sample_squared_norm(fake_gradient)]).detach()).mean()
            return torch.cat([per_sample_margin_norm(real_gradient, real_margin),
                              per_sample_margin_norm(fake_gradient, fake_margin)]).mean(), norm
        parameters = self._parameters(critic, generator, fake)
        real = real.detach()
        if not self.separate:
            gradients = parameter_gradient(critic(torch.cat([real, fake])).mean(), parameters)
            return margin_norm(gradients, real_margin), margin_norm([g.detach() for g in gradients], 0.0)
        real_gradients = parameter_gradient(critic(real).mean(), parameters)
        fake_gradients = parameter_gradient(critic(fake).mean(), parameters)
        norm = 0.5 * (margin_norm([g.detach() for g in real_gradients], 0.0)
                      + margin_norm([g.detach() for g in fake_gradients], 0.0))
        return margin_norm(real_gradients, real_margin) + margin_norm(fake_gradients, fake_margin), norm

    def _parameters(self, critic, generator, fake) -> list[torch.Tensor]:
        parameters = []
        for component in self.components:
            if component == "discriminator":
                module = critic
            else:
                if generator is None or not fake.requires_grad:
                    raise ConfigError("flex penalty with components ['generator'] needs generator=G and the fake "
                                      "batch attached to G's graph (call it with fake=G(z), not detached)")
                module = generator
            parameters.extend(p for p in module.parameters() if p.requires_grad)
        return parameters

    def schedules(self):
        return {"lambda": self.strength, "flex[0]": self.flex[0], "flex[1]": self.flex[1]}

    def settings(self):
        flex = [_describe(margin) for margin in self.flex] if self.separate else _describe(self.flex[0])
        return {**super().settings(), "flex": flex, "components": list(self.components), "target": self.target,
                "wrt": self.wrt}

"""Gradient penalties: the formulas of shared/spec/penalties.md as pure functions of tensors and modules.

Entry point: :func:`build_penalty` turns a config dict (gpbench form or a HyperGAN train-hook dict) into a
:class:`Penalty`, called as ``penalty(critic, real, fake, generator=None, step=0)``.

Conventions (spec "Penalty kinds"):
- "per-sample norm" is the L2 norm over all non-batch dims of one sample's input gradient;
- gradients are of the critic's raw output, taken with ``create_graph=True`` so the penalty trains the critic;
- interpolates are built from detached real and fake batches;
- an epsilon of 1e-12 inside every square root keeps values and parameter gradients finite at zero gradient;
- R1/R2 use the paper's gamma/2: ``r1`` with lambda=10 equals GAN_stability's ``reg_param=5``.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import torch
from torch import nn

from gpbench.errors import ConfigError

SQRT_EPSILON = 1e-12
LOSS_TARGETS = ("d_loss", "g_loss", "both")
FLEX_COMPONENTS = ("discriminator", "generator")
FLEX_TARGETS = ("discriminator",)
FLEX_WRT = ("parameters", "inputs")
HYPERGAN_HOOK_CLASS = "hypergan.train_hooks.gradient_penalty_train_hook.gradientpenaltytrainhook"

# kind -> (evaluated at, value, default lambda, default loss).  The one table of kinds: the CLI prints it.
PENALTY_KINDS = {
    "wgan-gp": ("x^ = x + a(g - x), a ~ U[0,1]", "lambda * mean (|grad| - 1)^2", 10.0, "d_loss"),
    "wgan-lp": ("x^ = x + a(g - x), a ~ U[0,1]", "lambda * mean max(0, |grad| - 1)^2", 10.0, "d_loss"),
    "zero-gp": ("x^ = x + a(g - x), a ~ U[0,1]", "lambda * mean |grad|^2", 10.0, "d_loss"),
    "r1": ("real x", "lambda/2 * mean |grad|^2", 10.0, "d_loss"),
    "r2": ("fake g", "lambda/2 * mean |grad|^2", 10.0, "d_loss"),
    "dragan": ("x + a * 0.5 std(x) u, u ~ U[0,1)", "lambda * mean (|grad| - 1)^2", 10.0, "d_loss"),
    "flex": ("D parameters (or inputs)", "lambda * || relu(|grad| - flex) ||_2", 1.0, "g_loss"),
    "none": ("-", "0", 0.0, "d_loss"),
}
COMMON_KEYS = ("kind", "lambda", "every", "loss", "fraction")
FLEX_KEYS = ("flex", "components", "target", "wrt")
HYPERGAN_KEYS = ("class", "lambda", "flex", "components", "target", "loss", "wrt", "every", "fraction")


# ----------------------------------------------------------------------------------------------------------
# Schedules: HyperGAN's `decay(range=a:b steps=N start=S metric=NAME)` and `anneal(A T=N)`.

@dataclass(frozen=True)
class Constant:
    value: float
    metric: str | None = None

    def __call__(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class Decay:
    """``a`` until step ``start``, then linear a -> b over ``steps`` steps, then ``b``."""

    start_value: float
    end_value: float
    steps: int
    start: int = 0
    metric: str | None = None

    def __call__(self, step: int) -> float:
        progress = min(max(step - self.start, 0) / self.steps, 1.0)
        return self.start_value + (self.end_value - self.start_value) * progress


@dataclass(frozen=True)
class Anneal:
    """``base ** (step / period)``."""

    base: float
    period: int
    metric: str | None = None

    def __call__(self, step: int) -> float:
        return self.base ** (step / self.period)


Schedule = Constant | Decay | Anneal
_SCHEDULE_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _parse_float(text: str, key: str, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{key}: {text!r} in schedule {source!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{key}: {text!r} in schedule {source!r} is not finite")
    return value


def _parse_count(text: str, key: str, source: str) -> int:
    value = _parse_float(text, key, source)
    if value != int(value) or value < 0:
        raise ConfigError(f"{key}: {text!r} in schedule {source!r} must be a whole number >= 0")
    return int(value)


def parse_schedule(value, key: str) -> Schedule:
    """A number or a schedule string -> a callable ``step -> float`` (spec: "schedule strings")."""
    if _is_number(value):
        if not math.isfinite(value):
            raise ConfigError(f"{key}: {value!r} is not finite")
        return Constant(float(value))
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a number or a schedule string like 'decay(range=10:0 steps=1000)', "
                          f"got {value!r}")
    match = _SCHEDULE_CALL.match(value)
    if match is None:
        try:
            return Constant(_parse_float(value.strip(), key, value))
        except ConfigError:
            raise ConfigError(f"{key}: malformed schedule {value!r}; expected a number, "
                              "'decay(range=a:b steps=N [start=S] [metric=NAME])' or 'anneal(A T=N [metric=NAME])'"
                              ) from None
    name, body = match.group(1), match.group(2)
    tokens = [token for token in re.split(r"[\s,]+", body.strip()) if token]
    positional = [token for token in tokens if "=" not in token]
    options = dict(token.split("=", 1) for token in tokens if "=" in token)
    if name == "decay":
        allowed = {"range", "steps", "start", "metric"}
        _check_schedule_words(positional, options, allowed, key, value)
        if "range" not in options or "steps" not in options:
            raise ConfigError(f"{key}: schedule {value!r} needs range=a:b and steps=N")
        bounds = options["range"].split(":")
        if len(bounds) != 2:
            raise ConfigError(f"{key}: range={options['range']!r} in {value!r} must be two numbers a:b")
        steps = _parse_count(options["steps"], key, value)
        if steps == 0:
            raise ConfigError(f"{key}: steps in {value!r} must be at least 1")
        return Decay(_parse_float(bounds[0], key, value), _parse_float(bounds[1], key, value), steps,
                     _parse_count(options.get("start", "0"), key, value), options.get("metric"))
    if name == "anneal":
        allowed = {"T", "metric"}
        if len(positional) != 1:
            raise ConfigError(f"{key}: schedule {value!r} needs exactly one base value, e.g. 'anneal(0.5 T=1000)'")
        _check_schedule_words([], options, allowed, key, value)
        if "T" not in options:
            raise ConfigError(f"{key}: schedule {value!r} needs T=N")
        period = _parse_count(options["T"], key, value)
        if period == 0:
            raise ConfigError(f"{key}: T in {value!r} must be at least 1")
        return Anneal(_parse_float(positional[0], key, value), period, options.get("metric"))
    raise ConfigError(f"{key}: unknown schedule {name!r} in {value!r}; allowed: decay, anneal")


def _check_schedule_words(positional, options, allowed, key, source):
    if positional:
        raise ConfigError(f"{key}: unexpected {positional[0]!r} in schedule {source!r}; "
                          f"write options as name=value ({', '.join(sorted(allowed))})")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"{key}: unknown option {unknown[0]!r} in schedule {source!r}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def _non_negative_schedule(value, key: str) -> Schedule:
    schedule = parse_schedule(value, key)
    extremes = {
        Constant: lambda s: [s.value],
        Decay: lambda s: [s.start_value, s.end_value],
        Anneal: lambda s: [s.base],
    }[type(schedule)](schedule)
    if min(extremes) < 0:
        raise ConfigError(f"{key} must be >= 0, got {value!r}")
    return schedule


# ----------------------------------------------------------------------------------------------------------
# Gradient helpers.

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
    scores = critic(points)
    (gradient,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return gradient


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x^ = x + a (g - x), one a ~ U[0, 1] per sample (Gulrajani et al. 2017, Algorithm 1)."""
    real, fake = real.detach(), fake.detach()
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return real + alpha * (fake - real)


def dragan_points(real: torch.Tensor) -> torch.Tensor:
    """x + a (x_p - x), x_p = x + 0.5 std(x) u, u ~ U[0,1)^dims, std over the whole batch (compare_gan v1)."""
    real = real.detach()
    perturbed = real + 0.5 * real.std() * torch.rand_like(real)
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return real + alpha * (perturbed - real)


def _margin_norm(gradients: list[torch.Tensor], margin: float) -> torch.Tensor:
    """|| relu(|g| - margin) ||_2 over all the given tensors together (HyperGAN flex, spec)."""
    squared = sum(torch.relu(gradient.abs() - margin).square().sum() for gradient in gradients)
    return safe_sqrt(squared)


def _per_sample_margin_norm(gradient: torch.Tensor, margin: float) -> torch.Tensor:
    return safe_sqrt(per_sample_squared_norm(torch.relu(gradient.abs() - margin)))


# ----------------------------------------------------------------------------------------------------------
# Penalties.

class Penalty:
    """A gradient penalty: ``penalty(critic, real, fake, generator=None, step=0)`` -> differentiable scalar.

    ``loss`` says which loss the trainer adds it to ("d_loss", "g_loss" or "both"); ``every`` = k applies it
    only on steps with step % k == 0, scaled by k (lazy regularization, StyleGAN2). After a call,
    ``last_gradient_norm`` holds the detached mean per-sample gradient norm at the penalty points (a tensor,
    so reading it costs no host sync until a logger asks for it). ``fraction`` < 1 evaluates the penalty on
    the first ceil(fraction * B) samples only (a cost/quality trade-off, like ``every``).

    ``real_scores`` / ``fake_scores``: the critic's outputs on ``real`` / ``fake`` that the loss already
    computed. R1 (R2) differentiates them instead of running the critic again when ``real`` (``fake``) was
    made to require grad before that forward pass (``reuses_scores_of`` says which batch).
    """

    kind = "none"
    reuses_scores_of: str | None = None

    def __init__(self, strength: Schedule, loss: str, every: int, fraction: float = 1.0):
        self.strength = strength
        self.loss = loss
        self.every = every
        self.fraction = fraction
        self.last_gradient_norm: torch.Tensor | None = None

    def lambda_at(self, step: int) -> float:
        return self.strength(step)

    def applies_at(self, step: int) -> bool:
        return step % self.every == 0

    def __call__(self, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                 generator: nn.Module | None = None, step: int = 0, real_scores: torch.Tensor | None = None,
                 fake_scores: torch.Tensor | None = None) -> torch.Tensor:
        strength = self.lambda_at(step)
        if not self.applies_at(step) or strength == 0.0:
            return real.new_zeros(())
        if self.fraction < 1.0:
            count = max(1, math.ceil(self.fraction * len(real)))
            real, fake, real_scores, fake_scores = real[:count], fake[:count], None, None
        return (strength * self.every) * self.term(critic, real, fake, generator, step, real_scores, fake_scores)

    def term(self, critic, real, fake, generator, step, real_scores=None, fake_scores=None) -> torch.Tensor:
        """The penalty without lambda and without the lazy-regularization factor."""
        return real.new_zeros(())

    def schedule_values(self, step: int) -> dict[str, float]:
        """Scheduled values that a schedule string asked to log under ``metric=NAME``."""
        return {schedule.metric: schedule(step) for schedule in self._schedules() if schedule.metric}

    def _schedules(self) -> list[Schedule]:
        return [self.strength]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, lambda={self.strength}, loss={self.loss!r}, every={self.every})"


class NoPenalty(Penalty):
    kind = "none"


class InputGradientPenalty(Penalty):
    """Penalties on per-sample input gradients of the critic; subclasses pick the points and the shape."""

    def points(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return interpolate(real, fake)

    def shape(self, squared_norms: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def gradient(self, critic, real, fake, real_scores, fake_scores) -> torch.Tensor:
        return input_gradient(critic, self.points(real, fake).detach())

    def term(self, critic, real, fake, generator, step, real_scores=None, fake_scores=None):
        squared_norms = per_sample_squared_norm(self.gradient(critic, real, fake, real_scores, fake_scores))
        self.last_gradient_norm = safe_sqrt(squared_norms.detach()).mean()
        return self.shape(squared_norms).mean()


class WganGP(InputGradientPenalty):
    """Gulrajani et al. 2017, Eq. 3: (||grad D(x^)|| - 1)^2 at random interpolates."""

    kind = "wgan-gp"

    def shape(self, squared_norms):
        return (safe_sqrt(squared_norms) - 1.0).square()


class WganLP(InputGradientPenalty):
    """One-sided penalty (Petzka et al. 2018; Gulrajani App. C): max(0, ||grad|| - 1)^2."""

    kind = "wgan-lp"

    def shape(self, squared_norms):
        return torch.relu(safe_sqrt(squared_norms) - 1.0).square()


class ZeroGP(InputGradientPenalty):
    """Zero-centred penalty at interpolates: ||grad||^2."""

    kind = "zero-gp"

    def shape(self, squared_norms):
        return squared_norms


class R1(InputGradientPenalty):
    """Mescheder et al. 2018: (1/2) ||grad D(x)||^2 on real data."""

    kind = "r1"
    reuses_scores_of = "real"

    def points(self, real, fake):
        return real

    def gradient(self, critic, real, fake, real_scores, fake_scores):
        points, scores = (real, real_scores) if self.reuses_scores_of == "real" else (fake, fake_scores)
        if scores is None or not points.requires_grad:
            return input_gradient(critic, points.detach())
        (gradient,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
        return gradient

    def shape(self, squared_norms):
        return 0.5 * squared_norms


class R2(R1):
    """Like R1, on generated data."""

    kind = "r2"
    reuses_scores_of = "fake"

    def points(self, real, fake):
        return fake


class Dragan(WganGP):
    """Kodali et al. 2017 as in compare_gan v1: (||grad|| - 1)^2 around perturbed real data."""

    kind = "dragan"

    def points(self, real, fake):
        return dragan_points(real)


class FlexPenalty(Penalty):
    """HyperGAN's gradient-penalty hook: lambda * || relu(|gradients(target, components)| - flex) ||_2.

    ``wrt="parameters"``: gradient of the batch-mean critic output w.r.t. the listed components' parameters;
    scalar flex uses one gradient over the stacked batch [x; g], list flex [fx, fg] two (mean D(x) with margin
    fx plus mean D(g) with margin fg). ``wrt="inputs"`` (gpbench extension): per-sample input gradients at x
    (margin fx) and g (margin fg), the mean of all 2B per-sample margin norms.
    The fake batch is used as given: attached to G's graph (a penalty on g_loss) the penalty trains G too.
    """

    kind = "flex"

    def __init__(self, strength, loss, every, flex: tuple[Schedule, Schedule], separate: bool,
                 components: tuple[str, ...], target: str, wrt: str, fraction: float = 1.0):
        super().__init__(strength, loss, every, fraction)
        self.flex = flex
        self.separate = separate
        self.components = components
        self.target = target
        self.wrt = wrt

    def _schedules(self):
        return [self.strength, *self.flex]

    def term(self, critic, real, fake, generator, step, real_scores=None, fake_scores=None):
        real_margin, fake_margin = (schedule(step) for schedule in self.flex)
        if self.wrt == "inputs":
            real_gradient = input_gradient(critic, real.detach())
            fake_gradient = input_gradient(critic, fake)
            self.last_gradient_norm = safe_sqrt(torch.cat([
                per_sample_squared_norm(real_gradient), per_sample_squared_norm(fake_gradient)]).detach()).mean()
            return torch.cat([_per_sample_margin_norm(real_gradient, real_margin),
                              _per_sample_margin_norm(fake_gradient, fake_margin)]).mean()
        parameters = self._parameters(critic, generator, fake)
        real = real.detach()
        if not self.separate:
            gradients = self._parameter_gradient(critic(torch.cat([real, fake])).mean(), parameters)
            self.last_gradient_norm = _margin_norm([g.detach() for g in gradients], 0.0)
            return _margin_norm(gradients, real_margin)
        real_gradients = self._parameter_gradient(critic(real).mean(), parameters)
        fake_gradients = self._parameter_gradient(critic(fake).mean(), parameters)
        self.last_gradient_norm = 0.5 * (_margin_norm([g.detach() for g in real_gradients], 0.0)
                                         + _margin_norm([g.detach() for g in fake_gradients], 0.0))
        return _margin_norm(real_gradients, real_margin) + _margin_norm(fake_gradients, fake_margin)

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

    @staticmethod
    def _parameter_gradient(output: torch.Tensor, parameters: list[torch.Tensor]) -> list[torch.Tensor]:
        gradients = torch.autograd.grad(output, parameters, create_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, gradients)]

    def __repr__(self) -> str:
        return (f"FlexPenalty(lambda={self.strength}, flex={self.flex}, separate={self.separate}, "
                f"components={self.components}, target={self.target!r}, wrt={self.wrt!r}, loss={self.loss!r}, "
                f"every={self.every})")


_PENALTY_CLASSES = {cls.kind: cls for cls in (NoPenalty, WganGP, WganLP, ZeroGP, R1, R2, Dragan, FlexPenalty)}


# ----------------------------------------------------------------------------------------------------------
# Building from configs.

def _one_of(value, allowed, key):
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
    return value


def _flex_margins(value) -> tuple[tuple[Schedule, Schedule], bool]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"flex: a list must have exactly two entries [x_flex, g_flex], got {list(value)!r}")
        return (_flex_margin(value[0], "flex[0]"), _flex_margin(value[1], "flex[1]")), True
    margin = _flex_margin(value, "flex")
    return (margin, margin), False


def _flex_margin(value, key) -> Schedule:
    if not _is_number(value) and not isinstance(value, str):
        raise ConfigError(f"{key}: flex must be a number, a schedule string or a list [x_flex, g_flex], got {value!r}")
    return _non_negative_schedule(value, key)


def _components(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"components: expected a non-empty list of {', '.join(FLEX_COMPONENTS)}, got {value!r}")
    for component in value:
        if component not in FLEX_COMPONENTS:
            raise ConfigError(f"components: unknown component {component!r}; gpbench has: "
                              f"{', '.join(FLEX_COMPONENTS)}")
    return tuple(dict.fromkeys(value))


def _from_hypergan(config: dict) -> dict:
    """A HyperGAN GradientPenaltyTrainHook dict -> gpbench form (spec: "flex")."""
    hook_class = config["class"]
    if not isinstance(hook_class, str) or not hook_class.lower().removeprefix("function:").endswith(
            HYPERGAN_HOOK_CLASS):
        raise ConfigError(f"class: {hook_class!r} is not a HyperGAN hook gpbench knows; allowed: "
                          "function:hypergan.train_hooks.gradient_penalty_train_hook.GradientPenaltyTrainHook")
    unknown = [key for key in config if key not in HYPERGAN_KEYS]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key in a HyperGAN gradient-penalty hook; allowed: "
                          f"{', '.join(HYPERGAN_KEYS)}")
    return {"kind": "flex", **{key: value for key, value in config.items() if key != "class"}}


def build_penalty(config: dict | None) -> Penalty:
    """Build a :class:`Penalty` from gpbench's form (``{"kind": "wgan-gp", "lambda": 10}``) or a HyperGAN
    gradient-penalty train-hook dict (``{"class": "function:hypergan...GradientPenaltyTrainHook", ...}``).

    Raises :class:`gpbench.ConfigError` for anything invalid, naming the key and what is allowed.
    """
    if config is None:
        config = {"kind": "none"}
    if not isinstance(config, dict):
        raise ConfigError(f"penalty: expected a mapping like {{kind: wgan-gp, lambda: 10}}, got {config!r}")
    if "class" in config:
        config = _from_hypergan(config)
    if "kind" not in config:
        raise ConfigError(f"penalty: missing 'kind'; allowed kinds: {', '.join(PENALTY_KINDS)}")
    kind = _one_of(config["kind"], tuple(PENALTY_KINDS), "kind")
    allowed_keys = COMMON_KEYS + (FLEX_KEYS if kind == "flex" else ())
    unknown = [key for key in config if key not in allowed_keys]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key for penalty kind {kind!r}; allowed: {', '.join(allowed_keys)}")
    _, _, default_lambda, default_loss = PENALTY_KINDS[kind]
    strength = _non_negative_schedule(config.get("lambda", default_lambda), "lambda")
    loss = _one_of(config.get("loss", default_loss), LOSS_TARGETS, "loss")
    every = config.get("every", 1)
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ConfigError(f"every: expected a whole number >= 1, got {every!r}")
    fraction = config.get("fraction", 1.0)
    if not _is_number(fraction) or not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    if kind != "flex":
        return _PENALTY_CLASSES[kind](strength, loss, every, float(fraction))
    margins, separate = _flex_margins(config.get("flex", 0.0))
    return FlexPenalty(strength, loss, every, margins, separate,
                       components=_components(config.get("components", list(FLEX_COMPONENTS))),
                       target=_one_of(config.get("target", "discriminator"), FLEX_TARGETS, "target"),
                       wrt=_one_of(config.get("wrt", "parameters"), FLEX_WRT, "wrt"), fraction=float(fraction))

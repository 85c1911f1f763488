"""Building a penalty from a gpbench config dict or a HyperGAN train-hook dict; the registry of kinds.

Adding a kind: write a :class:`~gpbench.penalties.base.Penalty` subclass and add it to ``REGISTRY`` (inside
gpbench), or call :func:`register_penalty` on it from your own module and name that module in a run's
``penalty_modules`` (docs/penalties.md, "Your own penalty").
"""

from __future__ import annotations

import re

from gpbench.errors import ConfigError
from gpbench.penalties.base import LOSS_TARGETS, NoPenalty, Penalty
from gpbench.penalties.flex import FlexPenalty, one_of
from gpbench.penalties.kinds import R1, R1R2, R2, Dragan, WganGP, WganLP, ZeroGP
from gpbench.penalties.schedules import is_number, non_negative_schedule

REGISTRY: dict[str, type[Penalty]] = {cls.kind: cls for cls in (
    WganGP, WganLP, ZeroGP, R1, R2, R1R2, Dragan, FlexPenalty, NoPenalty)}

KIND_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]*")      # a kind names run labels and table rows
MAX_EVERY = 1_000_000
# A penalty weight beyond this swamps the game loss by more than float32's 7 significant digits: the game's own
# gradient is lost in rounding and the critic trains on the penalty alone.
MAX_LAMBDA = 1e6


def register_penalty(cls: type[Penalty]) -> type[Penalty]:
    """Add a penalty kind from outside gpbench (usable as a class decorator): ``cls`` subclasses
    :class:`Penalty` and names its ``kind``; registering the same class again does nothing, another class under
    a taken kind is refused."""
    if not isinstance(cls, type) or not issubclass(cls, Penalty):
        raise ConfigError(f"register_penalty: expected a subclass of gpbench.penalties.Penalty, got {cls!r}")
    kind = cls.__dict__.get("kind")
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ConfigError(f"register_penalty: {cls.__name__}.kind = {kind!r}; set it to a name of lower-case letters, "
                          "digits, '.' and '-'")
    taken = REGISTRY.get(kind)
    if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ConfigError(f"register_penalty: kind {kind!r} is taken by {taken.__module__}.{taken.__qualname__}; "
                          "choose another name")
    REGISTRY[kind] = cls
    return cls
COMMON_KEYS = ("kind", "lambda", "every", "loss", "fraction")
HYPERGAN_HOOK_CLASS = "hypergan.train_hooks.gradient_penalty_train_hook.gradientpenaltytrainhook"
HYPERGAN_KEYS = ("class", "lambda", "flex", "components", "target", "loss", "wrt", "every", "fraction")


def _reject_unknown(config: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = [key for key in config if key not in allowed]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key {where}; allowed: {', '.join(allowed)}")


def _from_hypergan(config: dict) -> dict:
    """A HyperGAN GradientPenaltyTrainHook dict -> gpbench form (docs/penalties.md, "flex")."""
    hook_class = config["class"]
    if not isinstance(hook_class, str) or not hook_class.lower().removeprefix("function:").endswith(
            HYPERGAN_HOOK_CLASS):
        raise ConfigError(f"class: {hook_class!r} is not a HyperGAN hook gpbench knows; allowed: "
                          "function:hypergan.train_hooks.gradient_penalty_train_hook.GradientPenaltyTrainHook")
    _reject_unknown(config, HYPERGAN_KEYS, "in a HyperGAN gradient-penalty hook")
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
        raise ConfigError(f"penalty: missing 'kind'; allowed kinds: {', '.join(REGISTRY)}")
    cls = REGISTRY[one_of(config["kind"], tuple(REGISTRY), "kind")]
    _reject_unknown(config, COMMON_KEYS + cls.options, f"for penalty kind {cls.kind!r}")
    every = config.get("every", 1)
    if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= MAX_EVERY:
        raise ConfigError(f"every: expected a whole number from 1 to {MAX_EVERY:,}, got {every!r}")
    fraction = config.get("fraction", 1.0)
    if not is_number(fraction) or not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    common = {"strength": non_negative_schedule(config.get("lambda", cls.default_lambda), "lambda", MAX_LAMBDA,
                                                "beyond it float32 rounding drops the game loss beside the penalty"),
              "loss": one_of(config.get("loss", cls.default_loss), LOSS_TARGETS, "loss"),
              "every": every, "fraction": float(fraction)}
    return cls.from_options({key: config[key] for key in cls.options if key in config}, **common)

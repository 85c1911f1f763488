"""HyperGAN schedule strings for lambda and flex (docs/penalties.md, "Schedules"):
``decay(range=a:b steps=N start=S metric=NAME)`` and ``anneal(A T=N metric=NAME)``; a plain number is constant."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

from gpbench.errors import ConfigError


@dataclass(frozen=True)
class Constant:
    value: float
    metric: str | None = None

    def __call__(self, step: int) -> float:
        return self.value

    def extremes(self) -> tuple[float, float]:
        return self.value, self.value


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

    def extremes(self) -> tuple[float, float]:
        return min(self.start_value, self.end_value), max(self.start_value, self.end_value)


@dataclass(frozen=True)
class Anneal:
    """``base ** (step / period)``."""

    base: float
    period: int
    metric: str | None = None

    def __call__(self, step: int) -> float:
        try:
            return self.base ** (step / self.period)
        except OverflowError:
            return math.inf

    def extremes(self) -> tuple[float, float]:
        return min(self.base, 1.0), max(self.base, 1.0)


Schedule = Constant | Decay | Anneal
_SCHEDULE_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$")


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite_float(value, what: str) -> float:
    """``value`` as a finite float; ``what`` names it in the one-line error."""
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{what} is not a number") from None
    except OverflowError:
        raise ConfigError(f"{what} is too large") from None
    if not math.isfinite(number):
        raise ConfigError(f"{what} is not finite")
    return number


def _parse_float(text: str, key: str, source: str) -> float:
    return _finite_float(text, f"{key}: {text!r} in schedule {source!r}")


def _parse_count(text: str, key: str, source: str) -> int:
    value = _parse_float(text, key, source)
    if value != int(value) or value < 0:
        raise ConfigError(f"{key}: {text!r} in schedule {source!r} must be a whole number >= 0")
    return int(value)


def _parse_period(text: str, name: str, key: str, source: str) -> int:
    period = _parse_count(text, key, source)
    if period == 0:
        raise ConfigError(f"{key}: {name} in {source!r} must be at least 1")
    return period


def _check_words(positional, options, allowed, key, source):
    if positional:
        raise ConfigError(f"{key}: unexpected {positional[0]!r} in schedule {source!r}; "
                          f"write options as name=value ({', '.join(sorted(allowed))})")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"{key}: unknown option {unknown[0]!r} in schedule {source!r}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def _decay(positional, options, key, source) -> Decay:
    _check_words(positional, options, {"range", "steps", "start", "metric"}, key, source)
    if "range" not in options or "steps" not in options:
        raise ConfigError(f"{key}: schedule {source!r} needs range=a:b and steps=N")
    bounds = options["range"].split(":")
    if len(bounds) != 2:
        raise ConfigError(f"{key}: range={options['range']!r} in {source!r} must be two numbers a:b")
    return Decay(_parse_float(bounds[0], key, source), _parse_float(bounds[1], key, source),
                 _parse_period(options["steps"], "steps", key, source),
                 _parse_count(options.get("start", "0"), key, source), options.get("metric"))


def _anneal(positional, options, key, source) -> Anneal:
    if len(positional) != 1:
        raise ConfigError(f"{key}: schedule {source!r} needs exactly one base value, e.g. 'anneal(0.5 T=1000)'")
    _check_words([], options, {"T", "metric"}, key, source)
    if "T" not in options:
        raise ConfigError(f"{key}: schedule {source!r} needs T=N")
    return Anneal(_parse_float(positional[0], key, source), _parse_period(options["T"], "T", key, source),
                  options.get("metric"))


_PARSERS = {"decay": _decay, "anneal": _anneal}


def parse_schedule(value, key: str) -> Schedule:
    """A number or a schedule string -> a callable ``step -> float``."""
    if is_number(value):
        shown = repr(value) if len(repr(value)) < 40 else f"a number of {len(str(value))} digits"
        return Constant(_finite_float(value, f"{key}: {shown}"))
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
    if name not in _PARSERS:
        raise ConfigError(f"{key}: unknown schedule {name!r} in {value!r}; allowed: {', '.join(_PARSERS)}")
    tokens = [token for token in re.split(r"[\s,]+", body.strip()) if token]
    positional = [token for token in tokens if "=" not in token]
    options = dict(token.split("=", 1) for token in tokens if "=" in token)
    return _PARSERS[name](positional, options, key, value)


def non_negative_schedule(value, key: str, upper: float | None = None, why: str = "") -> Schedule:
    """A schedule whose values stay >= 0 (and at most ``upper``, for the reason ``why``)."""
    schedule = parse_schedule(value, key)
    low, high = schedule.extremes()
    if low < 0:
        raise ConfigError(f"{key} must be >= 0, got {value!r}")
    if upper is not None and high > upper:
        raise ConfigError(f"{key} must be at most {upper:g} ({why}), got {value!r}")
    return schedule

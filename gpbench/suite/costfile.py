"""The cost file: what ``gpbench cost --json FILE`` writes and the Snakefile reads for its time limits.

One entry per run setting (:func:`signature`: a resolved config without seeds, lengths and logging cadences),
holding the measured seconds per generator iteration and per dev-cost evaluation; :func:`projected_seconds`
turns an entry into a run's training time. Nothing here imports torch: the Snakefile reads cost files while
it plans, and ``gpbench cost`` (gpbench.suite.cost) times the settings and writes them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from gpbench.errors import ConfigError
from gpbench.training import RUNTIME_KEYS

# A cost entry is kept per engine rather than per runtime key, and lengths and seeds do not change the speed.
NOT_SPEED = RUNTIME_KEYS + ("seed", "iterations", "data_root", "train_subset", "preset_source")
COST_FIELDS = ("seconds_per_iteration", "dev_seconds", "device")     # each setting's entry in a cost file


def signature(config: dict) -> str:
    """What decides a run's time per iteration: its config without seeds, lengths, logging cadences and unset
    (None) options, so that a config key added later with no value leaves earlier measurements valid."""
    return json.dumps({key: value for key, value in sorted(config.items())
                       if key not in NOT_SPEED and value is not None}, default=str)


def rekeyed(measured: dict) -> dict:
    """A cost file's entries keyed by today's :func:`signature` of the setting each was measured for."""
    settings = {key: json.loads(key) for key in measured}
    if not all(isinstance(setting, dict) for setting in settings.values()):
        raise ValueError("a cost file's keys are settings (JSON objects)")
    return {signature(settings[key]): entry for key, entry in measured.items()}


@dataclass
class Timing:
    seconds_per_iteration: float          # with ``engine``, the one the suite's runs use here
    iterations_timed: int | None          # None: read from a file of earlier measurements
    dev_seconds: float
    device: str
    engine: str = "eager"
    by_engine: dict[str, float] = field(default_factory=dict)      # engine asked for -> seconds per iteration

    @property
    def on_gpu(self) -> bool:
        return not self.device.startswith("CPU")


@dataclass
class RunCost:
    path: str
    config: dict = field(repr=False)
    timing: Timing
    hours: float
    slots: int                # gpu_slots of 12 per device it occupies (12 when it does not share)
    slowdown: float = 1.0     # its time per iteration when sharing a GPU over its time alone (measured or 1)


def projected_seconds(config: dict, seconds_per_iteration: float, dev_seconds: float) -> float:
    """A run's training time: its iterations at the measured time each, plus one dev-cost evaluation every
    dev_every iterations."""
    return (config["iterations"] * seconds_per_iteration
            + math.ceil(config["iterations"] / config["dev_every"]) * dev_seconds)


def load_costs(path: str | None) -> dict:
    """The JSON `gpbench cost --json FILE` writes: run setting -> seconds per iteration and per dev evaluation."""
    if not path:
        return {}
    try:
        costs = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"cost file {path} does not exist; write it with gpbench cost --json {path}") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"cost file {path} is not readable JSON ({error}); write it again with gpbench cost "
                          f"--json {path}") from None
    if not isinstance(costs, dict) or not all(isinstance(entry, dict) and all(key in entry for key in COST_FIELDS)
                                              for entry in costs.values()):
        raise ConfigError(f"cost file {path} is not what gpbench cost --json writes (each setting needs "
                          f"{', '.join(COST_FIELDS)})")
    for entry in costs.values():
        for name in COST_FIELDS:
            value = entry[name]
            if name == "device":
                ok = isinstance(value, str) and bool(value)
            else:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                    and value >= 0
            if not ok:
                raise ConfigError(f"cost file {path}: {name} = {value!r} is not allowed ("
                                  + ("a device name" if name == "device" else "a finite number of seconds >= 0")
                                  + f"); write it again with gpbench cost --json {path}")
    try:
        return rekeyed(costs)
    except ValueError:
        raise ConfigError(f"cost file {path} is not what gpbench cost --json writes (its keys are not settings); "
                          f"write it again with gpbench cost --json {path}") from None


def timings_from_json(measured: dict) -> dict[str, Timing]:
    """The times ``gpbench cost --json`` wrote, to project a suite again without timing it."""
    return {key: Timing(iterations_timed=None, engine=value.get("engine", "eager"),
                        by_engine=value.get("by_engine", {}), **{name: value[name] for name in COST_FIELDS})
            for key, value in rekeyed(measured).items()}


def to_json(costs: list[RunCost]) -> dict:
    """Run setting -> measured seconds per iteration (of the engine the runs use, and of each engine timed) and
    per dev evaluation (the Snakefile's time limits)."""
    return {signature(cost.config): {**{name: getattr(cost.timing, name) for name in COST_FIELDS},
                                     "engine": cost.timing.engine, "by_engine": cost.timing.by_engine,
                                     "iterations_timed": cost.timing.iterations_timed}
            for cost in costs}

"""Run-config validation: a run config names a method and a dataset and overrides only what differs;
:func:`resolve` fills in every default from the preset of (architecture, method) (:mod:`gpbench.paper`, where
the papers' numbers live) and validates the result."""

from __future__ import annotations

import copy
import functools
import json
import math
from pathlib import Path

from gpbench.training import RUNTIME_KEYS
from gpbench.data import DATASETS, get_dataset
from gpbench.training.engine import ENGINES, MEMORY_FORMATS
from gpbench.errors import ConfigError
from gpbench.training.losses import CLIP_PLACEMENTS, GAMES, check_clipping, check_game_options
from gpbench.models import ARCHITECTURES, IMAGE_LAYOUT_ARCHITECTURES
from gpbench.models.random_architectures import draw_architecture
from gpbench.models.zoo import FIGURE2_ROWS
from gpbench.training.device import check_device_name
from gpbench.training.optim import OPTIMIZERS
from gpbench.paper import METHODS, preset
from gpbench.penalties import Penalty, build_penalty, load_penalty_modules
from gpbench.penalties.schedules import is_number
from gpbench.training.rundir import METRICS_FIELDS
from gpbench.training.schedule import ARJOVSKY_WARMUP_STEPS, LR_DECAYS
from gpbench.yamlio import parse_yaml, read_yaml

MAX_SNAPSHOTS = 20

# Every key a run config may hold, with its default where the preset does not set it.
DEFAULTS = {
    "method": None, "dataset": None, "arch": None, "seed": 0,
    "name": None,                      # what progress, the final line and sample titles call the run; null = method
    "iterations": None, "batch_size": None, "generator_batch_size": None, "dim": None, "depth": None,
    "game": None, "optimizer": None, "lr": None, "betas": [0.9, 0.999], "lr_decay": "none",
    "critic_lr": None, "generator_lr": None,   # two time scales; null = lr
    "n_critic": None, "penalty": {"kind": "none"},
    "penalty_modules": None,           # .py files or module names that register penalty kinds (docs/penalties.md)
    "clip": None, "clip_placement": "after",
    "halve_d_loss": False, "real_label": 1.0, "flip_probability": 0.0,
    "critic_warmup": False,            # Arjovsky's 100 critic steps for the first 25 and every 500th G iteration
    "generator_batchnorm": None, "critic_batchnorm": None, "dequantize": False,
    "figure2_row": None,               # arch figure2: which of Figure 2's architectures (gpbench.models.zoo)
    "resnet_blocks": None,             # arch figure2, row resnet: bottleneck blocks per resolution (paper 6)
    "random_architecture": None,       # arch random: {seed, index, space} of Table 1's draw
    "checkpoint_every": 1000, "log_every": 100, "sample_every": None,
    "dev_every": 100,                  # the dev critic cost (held-out real data) every N generator iterations
    "dev_samples": 1000,               # held-out samples it uses (the image presets: the whole 10k split)
    "train_subset": None,              # train on a fixed random subset of N images (Gulrajani Fig. 4b)
    "snapshot_every": None,            # generator snapshots for metric curves; default: at most 20 per run
    "data_root": "data", "device": "auto", "threads": None,
    "amp": "none",                     # "bf16": autocast forward passes; penalty norms stay in float32
    "compile": False,                  # torch.compile the generator (and a critic without penalty)
    "engine": "auto",                  # how steps are launched: eager, graph (CUDA graphs), auto (docs/engines.md)
    "memory_format": "auto",           # conv layout: channels_last on a GPU (auto), contiguous, channels_last
    "preset_source": None,
}
# Whole-number keys and their allowed range (the upper bounds keep every size and count far from overflow).
_INT_RANGES = {"iterations": (1, 10**9), "batch_size": (1, 65_536), "generator_batch_size": (1, 65_536),
               "dim": (1, 8192), "depth": (1, 256), "n_critic": (1, 10_000), "checkpoint_every": (1, 10**9),
               "log_every": (1, 10**9), "sample_every": (1, 10**9), "snapshot_every": (1, 10**9),
               "threads": (1, 1024), "seed": (0, 2**31 - 1), "dev_every": (1, 10**9),
               "dev_samples": (1, 1_000_000), "train_subset": (2, 10**8), "resnet_blocks": (1, 64)}
_OPTIONAL_INTS = ("threads", "train_subset", "resnet_blocks")     # null = the thread rule (device.py) / the whole training split
_CHOICES = {"method": METHODS, "dataset": tuple(DATASETS), "arch": tuple(ARCHITECTURES),
            "optimizer": tuple(OPTIMIZERS), "lr_decay": LR_DECAYS, "game": GAMES, "clip_placement": CLIP_PLACEMENTS, "amp": ("none", "bf16"),
            "engine": ENGINES, "memory_format": MEMORY_FORMATS}
_BOOLS = ("halve_d_loss", "critic_warmup", "generator_batchnorm", "critic_batchnorm", "dequantize", "compile")


def model_options(config: dict) -> dict:
    """The keyword arguments of :func:`gpbench.models.build` from a resolved config or a preset. Figure 2's rows
    and Table 1's draws also take the dataset's image geometry and range, and the critic's normalisation:
    layernorm under a gradient penalty (batchnorm mixes the samples it differentiates), batchnorm otherwise
    (gan_64x64.py's Normalize)."""
    options = {"dim": config["dim"], "depth": config.get("depth") or 3,
               "generator_batchnorm": config["generator_batchnorm"], "critic_batchnorm": config["critic_batchnorm"]}
    if config.get("arch") in IMAGE_LAYOUT_ARCHITECTURES:
        dataset = DATASETS[config["dataset"]]
        channels, size = dataset.image_shape
        options.update(size=size, channels=channels, output="sigmoid" if dataset.value_range == (0.0, 1.0) else "tanh",
                       critic_norm="layernorm" if config["penalty"]["kind"] != "none" else "batchnorm")
        if config["arch"] == "figure2":
            options.update(figure2_row=config["figure2_row"], resnet_blocks=config["resnet_blocks"])
        else:
            options["random_architecture"] = config["random_architecture"]
    return options


def resolve(user: dict) -> dict:
    """Validate a user run config and fill in every default. Raises ConfigError naming the bad key."""
    if not isinstance(user, dict):
        raise ConfigError(f"a run config must be a mapping of keys to values, got {type(user).__name__}")
    unknown = [key for key in user if key not in DEFAULTS or key == "preset_source"]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed: {', '.join(k for k in DEFAULTS if k != 'preset_source')}")
    for key in ("method", "dataset"):
        if key not in user:
            raise ConfigError(f"{key}: missing; allowed: {', '.join(_CHOICES[key])}")
        _check_choice(key, user[key])
    arch = user.get("arch") or get_dataset(user["dataset"]).default_arch
    _check_choice("arch", arch)
    _check_arch_fits_dataset(arch, user["dataset"])
    resolved = {**copy.deepcopy(DEFAULTS), **preset(arch, user["method"])}
    resolved.update(copy.deepcopy(user))
    resolved["arch"] = arch
    if resolved["generator_batch_size"] is None:
        resolved["generator_batch_size"] = resolved["batch_size"]
    if resolved["depth"] is None:
        resolved["depth"] = 3
    for key in ("critic_lr", "generator_lr"):
        if resolved[key] is None:
            resolved[key] = resolved["lr"]
    if resolved["sample_every"] is None:
        resolved["sample_every"] = resolved["checkpoint_every"]
    if resolved["snapshot_every"] is None and isinstance(resolved["iterations"], int):
        resolved["snapshot_every"] = max(resolved["checkpoint_every"], -(-resolved["iterations"] // MAX_SNAPSHOTS))
    _validate(resolved)
    return resolved


def _check_choice(key, value):
    allowed = _CHOICES[key]
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: {', '.join(allowed)}")


def _check_arch_fits_dataset(arch, dataset):
    info = get_dataset(dataset)
    if arch not in info.archs:
        raise ConfigError(f"arch: {arch!r} does not fit dataset {dataset!r}; allowed: {', '.join(info.archs)}")


def display_name(config: dict) -> str:
    """How the run is called where a person reads it: its suite label (``wgan-gp-flex1-inputs``), else the method."""
    return config.get("name") or config["method"]


def identity(config: dict) -> dict:
    """What makes a run's results: its config without the keys that only change speed or logging."""
    return {key: value for key, value in config.items() if key not in RUNTIME_KEYS}


def _check_whole_number(key: str, value, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{key}: expected a whole number from {low:,} to {high:,}, got {value!r}")


@functools.lru_cache(maxsize=64)
def _penalty_from_json(text: str) -> Penalty:
    return build_penalty(json.loads(text))


def run_penalty(config: dict) -> Penalty:
    """The penalty of a run config, built once per distinct penalty setting and shared (a Penalty holds no
    state between steps); the run's ``penalty_modules`` are imported first, so their kinds exist."""
    load_penalty_modules(config.get("penalty_modules"))
    return _penalty_from_json(json.dumps(config["penalty"], sort_keys=True))


def _check_penalty(config: dict) -> None:
    """The penalty builds, its schedules stay finite over the whole run, and no scheduled value would be
    logged under the name of a field metrics.jsonl already has."""
    penalty = run_penalty(config)
    last_step = config["iterations"] * max(config["n_critic"], ARJOVSKY_WARMUP_STEPS if config["critic_warmup"] else 0)
    for key, schedule in penalty.schedules().items():
        for step in (0, last_step):
            try:
                value = schedule(step)
            except (OverflowError, ZeroDivisionError):
                value = math.inf
            if not math.isfinite(value):
                raise ConfigError(f"penalty {key}: {schedule} is not finite at critic step {step:,} of this run")
        if schedule.metric in METRICS_FIELDS:
            raise ConfigError(f"penalty {key}: metric={schedule.metric} would overwrite the {schedule.metric!r} field "
                              f"of metrics.jsonl; choose another name (taken: {', '.join(METRICS_FIELDS)})")


def _validate(config: dict) -> None:
    for key, (low, high) in _INT_RANGES.items():
        if config[key] is None and key in _OPTIONAL_INTS:
            continue
        _check_whole_number(key, config[key], low, high)
    for key in ("optimizer", "lr_decay", "game", "clip_placement", "amp", "engine", "memory_format"):
        _check_choice(key, config[key])
    for key in _BOOLS:
        if not isinstance(config[key], bool):
            raise ConfigError(f"{key}: expected true or false, got {config[key]!r}")
    check_game_options(config["game"], config["real_label"], config["flip_probability"], config["halve_d_loss"])
    for key in ("lr", "critic_lr", "generator_lr"):
        if not is_number(config[key]) or not math.isfinite(config[key]) or not config[key] > 0:
            raise ConfigError(f"{key}: expected a finite number > 0, got {config[key]!r}")
    betas = config["betas"]
    if not isinstance(betas, (list, tuple)) or len(betas) != 2 or not all(is_number(b) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"betas: expected two numbers in [0, 1), got {betas!r}")
    if config["clip"] is not None:
        check_clipping(config["clip"], config["clip_placement"])
    if config["name"] is not None and (not isinstance(config["name"], str) or not config["name"].strip()
                                       or len(config["name"]) > 200):
        raise ConfigError(f"name: expected a label of 1 to 200 characters or null, got {config['name']!r}")
    if not isinstance(config["data_root"], str) or not config["data_root"]:
        raise ConfigError(f"data_root: expected a folder name, got {config['data_root']!r}")
    check_device_name(config["device"])
    if config["train_subset"] is not None and DATASETS[config["dataset"]].drawn_fresh:
        raise ConfigError(f"train_subset: {config['dataset']} draws its samples fresh; it applies to image datasets "
                          "and 25gaussians")
    for key, batches in (("generator_batchnorm", ("batch_size", "generator_batch_size")),
                         ("critic_batchnorm", ("batch_size",))):
        small = [size for size in batches if config[size] < 2]
        if config[key] and small:
            raise ConfigError(f"{small[0]}: {config[small[0]]} with {key} on; batchnorm needs at least 2 samples "
                              f"per batch (or set {key}: false)")
    _check_layout(config)
    _check_penalty(config)


def _check_layout(config: dict) -> None:
    """figure2_row and random_architecture: required by their arch, refused by any other."""
    arch = config["arch"]
    for key, owner in (("figure2_row", "figure2"), ("random_architecture", "random")):
        if config[key] is not None and arch != owner:
            raise ConfigError(f"{key}: applies to arch {owner} only (this run's arch is {arch})")
    if arch == "figure2" and config["figure2_row"] not in FIGURE2_ROWS:
        raise ConfigError(f"figure2_row: {config['figure2_row']!r} is not allowed; allowed: {', '.join(FIGURE2_ROWS)}")
    if arch == "random":
        drawn = config["random_architecture"]
        if not isinstance(drawn, dict) or set(drawn) != {"seed", "index", "space"}:
            raise ConfigError(f"random_architecture: expected {{seed: S, index: K, space: cpu|paper}}, got {drawn!r}")
        draw_architecture(drawn["seed"], drawn["index"], drawn["space"])      # refuses bad values in one line


def parse_overrides(overrides: list[str]) -> dict:
    """``KEY=VALUE`` strings (VALUE parsed as YAML) -> dict."""
    parsed = {}
    for item in overrides:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set iterations=200")
        parsed[key.strip()] = parse_yaml(value, f"--set {item!r}")
    return parsed


def load_run_config(path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML run config, apply ``overrides`` (e.g. from ``--set``) and resolve it."""
    user = read_yaml(path, "run config")
    if user is not None and not isinstance(user, dict):
        raise ConfigError(f"run config {path} must hold a mapping of keys to values, got {type(user).__name__}")
    return resolve({**(user or {}), **(overrides or {})})

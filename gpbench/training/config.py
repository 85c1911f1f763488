"""Method presets (the paper's numbers, in this one file) and run-config validation.

A run config names a method and a dataset and overrides only what differs; :func:`resolve` fills in every
default from the preset of (architecture, method) and validates the result. Sources: Gulrajani et al. 2017
and its official scripts gan_toy.py, gan_mnist.py, gan_cifar.py, gan_cifar_resnet.py (docs/replication.md).

Optimizers: ``adam`` is torch.optim.Adam; ``rmsprop-tf`` is TensorFlow 1's RMSPropOptimizer as the scripts
ran it (decay 0.9, epsilon 1e-10 inside the square root, mean-square accumulator initialised to 1);
``rmsprop`` is PyTorch's RMSprop (alpha 0.99, eps 1e-8, accumulator 0), as many PyTorch ports use.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from pathlib import Path

from gpbench.training import RUNTIME_KEYS
from gpbench.data import DATASETS, get_dataset
from gpbench.training.engine import ENGINES, MEMORY_FORMATS
from gpbench.errors import ConfigError
from gpbench.training.losses import CLIP_PLACEMENTS, GAMES, check_clipping, check_game_options
from gpbench.models import ARCHITECTURES, IMAGE_LAYOUT_ARCHITECTURES
from gpbench.models.random_architectures import draw_architecture
from gpbench.models.zoo import FIGURE2_ROWS, RESNET_BLOCKS
from gpbench.training.optim import OPTIMIZERS
from gpbench.penalties import Penalty, build_penalty, load_penalty_modules
from gpbench.penalties.schedules import is_number
from gpbench.training.rundir import METRICS_FIELDS
from gpbench.training.schedule import ARJOVSKY_WARMUP_STEPS, LR_DECAYS
from gpbench.yamlio import parse_yaml, read_yaml

MAX_SNAPSHOTS = 20

# Per-script settings shared by the methods (batch, iterations, DIM, the critic's depth for MLPs; the image
# scripts compute the dev critic cost on the whole 10k dev split / test set every 100 iterations).
_SCRIPT = {
    "toy": {"batch_size": 256, "iterations": 100_000, "dim": 512, "depth": 3},         # gan_toy.py
    "deep-mlp": {"batch_size": 256, "iterations": 100_000, "dim": 512, "depth": 12},   # paper Fig. 1b (no code)
    "mnist": {"batch_size": 50, "iterations": 200_000, "dim": 64, "dev_samples": 10_000},     # gan_mnist.py
    "cifar10": {"batch_size": 64, "iterations": 200_000, "dim": 128, "dev_samples": 10_000},  # gan_cifar.py
    "cifar10-resnet": {"batch_size": 64, "generator_batch_size": 128, "iterations": 100_000, "dim": 128,
                       "lr_decay": "linear", "dequantize": True, "dev_samples": 10_000},     # gan_cifar_resnet.py
    # gan_64x64.py (Figure 2): batch 64, DIM 64, 200k iterations, 6 bottleneck blocks per resolution
    "figure2": {"batch_size": 64, "iterations": 200_000, "dim": 64, "resnet_blocks": RESNET_BLOCKS},
    # Table 1: the paper gives no training length or batch for its random architectures; gpbench's choice is
    # gan_64x64.py's (docs/replication.md, "Robustness across architectures")
    "random": {"batch_size": 64, "iterations": 200_000, "dim": 64},
}
# The scripts' three modes. `wgan` = weight clipping, `dcgan` = NS-GAN with the halved critic loss.
_MODE = {
    "wgan-gp": {"game": "wgan", "optimizer": "adam", "lr": 1e-4, "betas": [0.5, 0.9], "n_critic": 5,
                "penalty": {"kind": "wgan-gp", "lambda": 10.0}},
    "wgan-clip": {"game": "wgan", "optimizer": "rmsprop-tf", "lr": 5e-5, "n_critic": 5, "clip": 0.01},
    # Fig. 3's "WGAN-GP with RMSProp ... to control for the optimizer": the paper gives no learning rate for it;
    # gpbench uses the clipping mode's optimizer, so the curve differs from clipping by the penalty (and, on MNIST,
    # by batchnorm: the clipping mode has it in both nets, and a per-sample penalty rules it out in the critic).
    "wgan-gp-rmsprop": {"game": "wgan", "optimizer": "rmsprop-tf", "lr": 5e-5, "n_critic": 5,
                        "penalty": {"kind": "wgan-gp", "lambda": 10.0}},
    "ns-gan": {"game": "ns", "optimizer": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "n_critic": 1,
               "halve_d_loss": True},
    "mm-gan": {"game": "mm", "optimizer": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "n_critic": 1,
               "halve_d_loss": True},
    # gan_64x64.py's `lsgan` mode (Figure 2's fourth method): least squares, TF RMSProp 1e-4, one critic step
    "lsgan": {"game": "ls", "optimizer": "rmsprop-tf", "lr": 1e-4, "n_critic": 1},
    # R3GAN (Huang et al. 2024; brownvc/R3GAN at 19a7ddf): critic loss softplus(D(g) - D(x)) + (gamma/2)(|grad
    # D(x)|^2 + |grad D(g)|^2) per sample (R3GAN/Trainer.py) = the rp game with r1r2 at lambda = gamma; Adam
    # betas (0, beta2), eps 1e-8 (train.py), one D step then one G step (training/training_loop.py). Its CIFAR-10
    # preset (train.py) cosine-decays lr 2e-4 -> 5e-5, beta2 0.9 -> 0.99, gamma 0.05 -> 0.005 over 20M images;
    # gpbench's runs see well under 1 % of that, so the starting values hold throughout.
    "r3gan": {"game": "rp", "optimizer": "adam", "lr": 2e-4, "betas": [0.0, 0.9], "n_critic": 1,
              "penalty": {"kind": "r1r2", "lambda": 0.05}},
}
# Where a preset that is not the paper's comes from (default: gpbench's extrapolation of the paper's modes).
_MODE_SOURCE = {"r3gan": "R3GAN's CIFAR-10 preset (brownvc/R3GAN train.py) at its schedules' starting values, "
                         "extrapolated to this net"}
# Where the scripts differ from the mode defaults.
_EXCEPTIONS = {
    ("toy", "wgan-gp"): {"penalty": {"kind": "wgan-gp", "lambda": 0.1}},    # "smaller lambda ... for toy tasks"
    ("deep-mlp", "wgan-gp"): {"penalty": {"kind": "wgan-gp", "lambda": 0.1}},
    ("toy", "wgan-gp-rmsprop"): {"penalty": {"kind": "wgan-gp", "lambda": 0.1}},
    ("cifar10-resnet", "wgan-gp"): {"lr": 2e-4, "betas": [0.0, 0.9]},
    ("figure2", "wgan-gp"): {"betas": [0.0, 0.9]},                          # gan_64x64.py: Adam(1e-4, 0, 0.9)
    ("random", "wgan-gp"): {"betas": [0.0, 0.9]},
}
# Batchnorm placement per (arch, method): gan_mnist.py only in `wgan` mode, in both nets; gan_cifar.py
# always in G, in the critic's inner convs except in wgan-gp mode; the ResNet G always, its critic never.
# One deviation (MNIST_GAN_GENERATOR_BATCHNORM): the standard-GAN games on MNIST get DCGAN's batchnorm in G.
_BATCHNORM = {
    "mnist": lambda method: (method == "wgan-clip" or method in MNIST_GAN_GENERATOR_BATCHNORM, method == "wgan-clip"),
    "cifar10": lambda method: (True, "penalty" not in _MODE[method]),      # no batchnorm under a per-sample penalty
    "cifar10-resnet": lambda method: (True, False),
    "toy": lambda method: (False, False),
    "deep-mlp": lambda method: (False, False),
    # Figure 2's row or Table 1's draw decides where normalisation goes; the method decides which (model_options)
    "figure2": lambda method: (True, True),
    "random": lambda method: (True, True),
}
# gan_mnist.py's `dcgan` mode has no batchnorm in G; with its sigmoid output that generator saturates (every
# sample the same near-black image, IS 1.000) within a few hundred iterations, seed after seed, and the baseline
# is dead. Radford et al.'s DCGAN has batchnorm in G (as gan_cifar.py in every mode), which gpbench adds for
# the standard-GAN games on MNIST; `generator_batchnorm: false` gives the script's net. docs/replication.md; the
# same problem is reported upstream as igul222/improved_wgan_training issue #23.
MNIST_GAN_GENERATOR_BATCHNORM = ("ns-gan", "mm-gan", "lsgan")
METHODS = tuple(_MODE)
# Which presets are the paper's own; the others are gpbench's extrapolations, said so in config.yaml.
PAPER_PRESETS = {(arch, method) for arch in ("mnist", "cifar10") for method in ("wgan-gp", "wgan-clip", "ns-gan")}
PAPER_PRESETS |= {("toy", "wgan-gp"), ("toy", "wgan-clip"), ("cifar10-resnet", "wgan-gp"), ("cifar10", "wgan-gp-rmsprop")}

# Table 1 (200 random architectures, 32x32 ImageNet): minimum Inception score -> architectures that pass it with
# only the standard GAN, only WGAN-GP, both, neither (Gulrajani et al. 2017, Table 1)
REPORTED_TABLE1 = {1.0: (0, 8, 192, 0), 3.0: (1, 88, 110, 1), 5.0: (0, 147, 42, 11), 7.0: (1, 104, 5, 90),
                   9.0: (0, 0, 0, 200)}


# Figure 1 (fixed-generator critics): steps and sizes; the optimizers, lambda and c come from the presets.
# The paper trains the toy critics to optimality and the 12-layer critic (width 512, Fig. 1b) briefly; gpbench
# repeats every critic for each seed and reports mean +- std over seeds (the paper shows one run).
FIGURE1_DEFAULTS = {"critic_steps": 10_000, "width": 512, "deep_steps": 300, "deep_width": 512,
                    "average_last": 20, "batch_size": 256, "seeds": [0, 1, 2]}
FIGURE1_METHODS = ("wgan-clip", "wgan-gp")       # the rows of Fig. 1a (its toys: the dataset rows with in_figure1)
FIGURE1_CLIP_VALUES = (0.1, 0.01, 0.001)         # Fig. 1b left's c
FIGURE1_DEEP_DATASET = "swissroll"                # Fig. 1b left: the 12-layer critic's data
FIGURE1_WEIGHTS = ("swissroll", 0.01)             # Fig. 1b right: whose 3-layer critics' weights, and c


# Every key a run config may hold, with its default where the preset does not set it.
DEFAULTS = {
    "method": None, "dataset": None, "arch": None, "seed": 0,
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
_OPTIONAL_INTS = ("threads", "train_subset", "resnet_blocks")     # null = leave torch's default / the whole training split
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
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


def preset(arch: str, method: str) -> dict:
    """The fully specified preset for (arch, method): script settings, mode settings, the script's quirks."""
    values = {**_SCRIPT[arch], **copy.deepcopy(_MODE[method]), **copy.deepcopy(_EXCEPTIONS.get((arch, method), {}))}
    values["generator_batchnorm"], values["critic_batchnorm"] = _BATCHNORM[arch](method)
    values["preset_source"] = ("Gulrajani et al. 2017 official script" if (arch, method) in PAPER_PRESETS
                               else _MODE_SOURCE.get(method, "gpbench extrapolation (not in the paper's code)"))
    if arch == "mnist" and method in MNIST_GAN_GENERATOR_BATCHNORM:
        values["preset_source"] += ", with DCGAN's batchnorm in G (the script's dcgan-mode G saturates)"
    return values


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


def check_device_name(name: object, option: str = "device") -> None:
    """A device name gpbench accepts, whether or not this machine has that device."""
    if not isinstance(name, str) or not _DEVICE.match(name):
        raise ConfigError(f"{option}: {name!r} is not allowed; allowed: auto, cpu, cuda, cuda:N")


def resolve_device(name: object, option: str = "device"):
    """``auto`` (a CUDA GPU where there is one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N`` as a torch device;
    ``option`` names the config key or command-line option in the error."""
    import torch

    check_device_name(name, option)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option}: {name!r} asked for, but this machine has no CUDA GPU; use auto or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"{option}: {name!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    return device


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

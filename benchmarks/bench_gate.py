"""The performance gate: gpbench's steps against textbook PyTorch doing the same arithmetic (benchmarks/textbook.py),
timed interleaved in one process on one thread. ``extra_info["gate"]`` names the entry; benchmarks/check.py holds
its ratio (gpbench / textbook) against benchmarks/baseline.json (docs/performance.md).

- ``critic step: <entry>``: one critic step through gpbench's Trainer (engine, loss object, penalty, nets) on
  Gulrajani's MNIST critic, for every registered penalty kind (flex at each placement), a lazy one, weight clipping
  and every game; a kind added to the registry gets an entry here by itself and fails until
  textbook.PENALTIES and the baseline have it.
- ``training iteration: <arch>``: one generator iteration (1 generator + 5 critic steps, WGAN-GP) through the
  Trainer on the toy, MNIST and CIFAR-10 nets against the textbook loop.

The image nets run at DIM 16 (the paper's 64 and 128 would take minutes a round here); the arithmetic per
parameter is the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import gpbench
import textbook
from gpbench.data.images import load_cifar10
from gpbench.penalties import REGISTRY
from gpbench.suite.rehearsal import write_synthetic_cifar10
from gpbench.training.config import resolve
from gpbench.training.losses import GAMES
from gpbench.training.train import Trainer

from pairing import paired

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GATE_DIM = 16
STEP_ROUNDS, ITERATION_ROUNDS = 31, 21
# Kinds gated at more than one setting; every other registered kind is gated at its defaults.
PLACEMENTS = {"flex": {"flex-parameters": {"kind": "flex", "flex": 1.0, "loss": "d_loss",
                                           "components": ["discriminator"]},
                       "flex-inputs": {"kind": "flex", "flex": 1.0, "wrt": "inputs", "loss": "d_loss"}}}
LAZY_EVERY = 16


def critic_step_entries() -> dict[str, dict]:
    """Entry name -> the run-config keys it sets (and the textbook step's arguments)."""
    entries = {}
    for kind in REGISTRY:
        for name, penalty in PLACEMENTS.get(kind, {kind: {"kind": kind}}).items():
            entries[name] = {"penalty": penalty, "textbook": {"penalty": name}}
    entries["lazy-r1"] = {"penalty": {"kind": "r1", "every": LAZY_EVERY}, "textbook": {"penalty": "r1"}}
    entries["clipping"] = {"penalty": {"kind": "none"}, "clip": 0.01, "textbook": {"clip": 0.01}}
    for game in GAMES:
        if game != "wgan":                    # the wgan game is the "none" kind's entry
            entries[f"game-{game}"] = {"penalty": {"kind": "none"}, "game": game, "textbook": {"game": game}}
    return entries


ENTRIES = critic_step_entries()


def trainer(tmp_path, dataset: str, **keys) -> Trainer:
    config = resolve({"method": "wgan-gp", "dataset": dataset, "iterations": 10**6, "threads": 1, "log_every": 10**6,
                      "checkpoint_every": 10**6, "sample_every": 10**6, "data_root": str(tmp_path / "data"), **keys})
    return Trainer(config, tmp_path / "run", progress=False)


def real_images(count: int, channels: int, low: float) -> torch.Tensor:
    return torch.rand(count, channels, 32 if channels == 3 else 28, 32 if channels == 3 else 28) * (1 - low) + low


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_critic_step(benchmark, tmp_path, entry):
    spec = ENTRIES[entry]
    arguments = spec["textbook"]
    if arguments.get("penalty", "none") not in textbook.PENALTIES:
        pytest.fail(f"critic step: {entry}: no textbook reference; add {entry!r} to PENALTIES in "
                    "benchmarks/textbook.py and record its baseline (docs/performance.md, 'Adding a kind')")
    gpbench_run = trainer(tmp_path, "mnist", dim=GATE_DIM,
                          **{key: value for key, value in spec.items() if key != "textbook"})
    every = spec["penalty"].get("every", 1)
    torch.manual_seed(0)
    generator, critic = textbook.image_generator(GATE_DIM, 1, batchnorm=False), textbook.image_critic(GATE_DIM, 1)
    optimizer = textbook.adam(critic)
    data, batch = real_images(1000, 1, 0.0), gpbench_run.config["batch_size"]

    def gpbench_steps():
        for _ in range(every):
            gpbench_run.critic_step_once()

    def textbook_steps():
        for step in range(every):
            with torch.no_grad():
                fake = generator(torch.randn(batch, textbook.NOISE))
            textbook.critic_step(critic, optimizer, data[torch.randint(len(data), (batch,))], fake,
                                 apply_penalty=step == 0, **arguments)

    benchmark.group = "gate: critic step"
    benchmark.extra_info.update(gate=f"critic step: {entry}", arch="mnist", dim=GATE_DIM, batch=batch, threads=1,
                                steps_per_round=every, gpbench=str(Path(gpbench.__file__).parent))
    paired(benchmark, gpbench_steps, textbook_steps, rounds=STEP_ROUNDS)


ITERATIONS = {"toy": ("25gaussians", {}), "mnist": ("mnist", {"dim": GATE_DIM}),
              "cifar10": ("cifar10", {"dim": GATE_DIM})}


@pytest.mark.parametrize("arch", list(ITERATIONS))
def test_training_iteration(benchmark, tmp_path, arch):
    dataset, keys = ITERATIONS[arch]
    if dataset == "cifar10":
        write_synthetic_cifar10(tmp_path / "data", images_per_batch=200)
        load_cifar10(tmp_path / "data")       # fail here, not in the timed loop, if the files are wrong
    gpbench_run = trainer(tmp_path, dataset, **keys)
    config = gpbench_run.config
    torch.manual_seed(0)
    if arch == "toy":
        generator, critic = textbook.toy_nets(config["dim"])
        data, noise = torch.randn(1000, 2), 2
    else:
        channels = 1 if arch == "mnist" else 3
        generator = textbook.image_generator(config["dim"], channels, config["generator_batchnorm"])
        critic = textbook.image_critic(config["dim"], channels)
        data, noise = real_images(1000, channels, 0.0 if channels == 1 else -1.0), textbook.NOISE
    loop = textbook.WganGpLoop(generator, critic, data, config["batch_size"], config["n_critic"], noise)
    iteration = iter(range(1, 10**6))
    benchmark.group = "gate: training iteration"
    benchmark.extra_info.update(gate=f"training iteration: {arch}", arch=arch, dim=config["dim"],
                                batch=config["batch_size"], threads=1, gpbench=str(Path(gpbench.__file__).parent))
    paired(benchmark, lambda: gpbench_run.train_iteration(next(iteration)), loop, rounds=ITERATION_ROUNDS)

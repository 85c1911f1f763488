"""gan_toy.py's 2-D datasets, in the scaled coordinates the models see (docs/replication.md, "Toy datasets").

- 8gaussians: centres 2*(+-1, 0), 2*(0, +-1), 2*(+-1/sqrt2, +-1/sqrt2); std 0.02; whole batch / 1.414.
- 25gaussians: centres 2*{-2..2}^2; std 0.05; 100,000 points made once, shuffled, / 2.828, cycled.
- swissroll: sklearn make_swiss_roll(n, noise=0.25) (same draws for the same RandomState), columns [0, 2], / 7.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gpbench.data.streams import SamplerStream, Stream
from gpbench.errors import ConfigError

EIGHT_SCALE, TWENTY_FIVE_SCALE, SWISSROLL_SCALE = 1.414, 2.828, 7.5
EIGHT_STD, TWENTY_FIVE_STD = 0.02, 0.05
TWENTY_FIVE_SIZE = 100_000


def _eight_centres() -> np.ndarray:
    r = 1.0 / np.sqrt(2.0)
    units = [(1, 0), (-1, 0), (0, 1), (0, -1), (r, r), (r, -r), (-r, r), (-r, -r)]
    return 2.0 * np.array(units, dtype=np.float64)


def _twenty_five_centres() -> np.ndarray:
    return np.array([(2.0 * x, 2.0 * y) for x in range(-2, 3) for y in range(-2, 3)], dtype=np.float64)


def _eight_modes() -> tuple[np.ndarray, np.ndarray]:
    return _eight_centres() / EIGHT_SCALE, np.full(8, EIGHT_STD / EIGHT_SCALE)


def _twenty_five_modes() -> tuple[np.ndarray, np.ndarray]:
    return _twenty_five_centres() / TWENTY_FIVE_SCALE, np.full(25, TWENTY_FIVE_STD / TWENTY_FIVE_SCALE)


def _eight_gaussians(n: int, rng: np.random.RandomState) -> np.ndarray:
    centres = _eight_centres()
    points = rng.randn(n, 2) * EIGHT_STD + centres[rng.randint(0, len(centres), size=n)]
    return (points / EIGHT_SCALE).astype(np.float32)


def _twenty_five_gaussians(n: int, rng: np.random.RandomState) -> np.ndarray:
    centres = _twenty_five_centres()
    points = np.tile(centres, (-(-n // 25), 1))[:n] + rng.randn(n, 2) * TWENTY_FIVE_STD
    rng.shuffle(points)
    return (points / TWENTY_FIVE_SCALE).astype(np.float32)


def swiss_roll_3d(n: int, noise: float, rng: np.random.RandomState) -> np.ndarray:
    """sklearn.datasets.make_swiss_roll's recipe and draw order: t = 1.5 pi (1 + 2u), height 21 u'."""
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    height = 21 * rng.uniform(size=n)
    points = np.vstack((t * np.cos(t), height, t * np.sin(t)))
    points += noise * rng.standard_normal(size=(3, n))
    return points.T


def _swissroll(n: int, rng: np.random.RandomState) -> np.ndarray:
    return (swiss_roll_3d(n, 0.25, rng)[:, [0, 2]] / SWISSROLL_SCALE).astype(np.float32)


@dataclass(frozen=True)
class Toy:
    """A 2-D dataset: its sampler ``(n, RandomState) -> (n, 2) float32``, and its Gaussian modes ``() -> (centres,
    per-mode std)`` in model coordinates where it has any (the "modes" metric counts them)."""
    sampler: Callable[[int, np.random.RandomState], np.ndarray]
    modes: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None


# Every toy dataset; its row in gpbench/data/catalog.py lists "modes" among its metrics exactly when it has modes.
TOYS = {"8gaussians": Toy(_eight_gaussians, _eight_modes), "25gaussians": Toy(_twenty_five_gaussians, _twenty_five_modes),
        "swissroll": Toy(_swissroll)}


def _sampler(name: str):
    if name not in TOYS:
        raise ConfigError(f"dataset: {name!r} is not a toy dataset; allowed: {', '.join(TOYS)}")
    return TOYS[name].sampler


def modes(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(centres, per-mode std) in model coordinates, of a toy with Gaussian modes."""
    if name not in TOYS or TOYS[name].modes is None:
        raise ConfigError(f"dataset: {name!r} has no Gaussian modes; modes exist for "
                          f"{', '.join(toy for toy, entry in TOYS.items() if entry.modes)}")
    return TOYS[name].modes()


def sample(name: str, n: int, seed: int) -> np.ndarray:
    """``n`` points of dataset ``name`` as a float32 (n, 2) array in model coordinates, from ``seed``."""
    return _sampler(name)(n, np.random.RandomState(seed))


def training_set(name: str, seed: int) -> np.ndarray:
    """A toy's fixed training set, 100k points, as gan_toy.py draws 25gaussians' once (the others are drawn fresh:
    the catalog's ``drawn_fresh``)."""
    return sample(name, TWENTY_FIVE_SIZE, seed)


def fresh_stream(name: str, batch_size: int, seed: int) -> Stream:
    """A fresh batch every time, as gan_toy.py draws 8gaussians and swissroll."""
    return SamplerStream(_sampler(name), batch_size, seed)

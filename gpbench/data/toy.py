"""gan_toy.py's 2-D datasets, in the scaled coordinates the models see (docs/replication.md, "Toy datasets").

- 8gaussians: centres 2*(+-1, 0), 2*(0, +-1), 2*(+-1/sqrt2, +-1/sqrt2); std 0.02; whole batch / 1.414.
- 25gaussians: centres 2*{-2..2}^2; std 0.05; 100,000 points made once, shuffled, / 2.828, cycled.
- swissroll: sklearn make_swiss_roll(n, noise=0.25) (same draws for the same RandomState), columns [0, 2], / 7.5.
"""

from __future__ import annotations

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


def modes(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(centres, per-mode std) in model coordinates; swissroll has no modes."""
    if name == "8gaussians":
        return _eight_centres() / EIGHT_SCALE, np.full(8, EIGHT_STD / EIGHT_SCALE)
    if name == "25gaussians":
        return _twenty_five_centres() / TWENTY_FIVE_SCALE, np.full(25, TWENTY_FIVE_STD / TWENTY_FIVE_SCALE)
    raise ConfigError(f"dataset: {name!r} has no Gaussian modes; modes exist for 8gaussians and 25gaussians")


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


_SAMPLERS = {"8gaussians": _eight_gaussians, "25gaussians": _twenty_five_gaussians, "swissroll": _swissroll}


def _sampler(name: str):
    if name not in _SAMPLERS:
        raise ConfigError(f"dataset: {name!r} is not a toy dataset; allowed: {', '.join(_SAMPLERS)}")
    return _SAMPLERS[name]


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

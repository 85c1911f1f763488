"""Kernel Inception Distance (Binkowski et al. 2018) with torch-fidelity's conventions."""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (x @ y.T * gamma + coef0) ** degree


def unbiased_mmd2(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD^2: the within-set sums exclude the diagonals; the cross term averages all m^2 pairs."""
    m = len(k_xx)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid_from_features(features1, features2, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
                      gamma: float | None = None, coef0: float = 1, seed: int = 2020) -> tuple[float, float]:
    """(mean, std with ddof 0) of the unbiased MMD^2 over ``subsets`` random subsets drawn without replacement."""
    features1, features2 = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    if min(len(features1), len(features2)) < subset_size:
        raise ValueError(f"KID subset size {subset_size} exceeds the number of samples "
                         f"({len(features1)}, {len(features2)}); pass a smaller subset_size")
    gamma = 1.0 / features1.shape[1] if gamma is None else gamma
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for index in range(subsets):
        x = features1[rng.choice(len(features1), subset_size, replace=False)]
        y = features2[rng.choice(len(features2), subset_size, replace=False)]
        values[index] = unbiased_mmd2(polynomial_kernel(x, x, degree, gamma, coef0),
                                      polynomial_kernel(x, y, degree, gamma, coef0),
                                      polynomial_kernel(y, y, degree, gamma, coef0))
    return float(values.mean()), float(values.std())

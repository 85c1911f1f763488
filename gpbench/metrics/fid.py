"""Fréchet distance between Gaussians fitted to features (Heusel et al. 2017), torch-fidelity's conventions.

FID = |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr sqrt(s1 s2), with tr sqrt(s1 s2) = sum_i sqrt(lambda_i) of the
symmetric PSD matrix sqrt(s1) s2 sqrt(s1) (eigh; tiny negative eigenvalues clamped to 0). No sqrtm: it
lost its `disp` argument in SciPy 1.18 and was numerically broken in SciPy 1.11.2-1.12.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance with ddof 1) of an (N, D) feature array, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be an (N, D) array with N >= 2, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    # divide-and-conquer (LAPACK syevd): about 30 % faster than scipy's default syevr at 2048 x 2048
    eigenvalues, eigenvectors = linalg.eigh(matrix, driver="evd")
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(sigma1 sigma2) for symmetric PSD sigma1, sigma2."""
    root = _psd_sqrt(sigma1)
    eigenvalues = linalg.eigvalsh(root @ sigma2 @ root)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def fid_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"statistics do not match: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    difference = mu1 - mu2
    return float(difference @ difference + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * trace_sqrt_product(sigma1, sigma2))


def fid_from_features(features1, features2) -> float:
    return fid_from_stats(*feature_statistics(features1), *feature_statistics(features2))

"""Reference statistics of real data, computed once per (dataset, split, extractor, n) and cached as .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from gpbench.metrics.fid import feature_statistics


def reference_statistics_path(cache_dir: Path, dataset: str, split: str, kind: str, count: int,
                              available: int) -> Path:
    return Path(cache_dir) / f"stats-{dataset}-{split}-{kind}-{count}-of-{available}.npz"


def reference_statistics_cached(path: Path, extract: Callable[[], np.ndarray], want_features: bool
                                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(mu, sigma, features or None) from ``path``, or from ``extract()`` (the real images' features) and then
    written to ``path``; the features themselves are cached too when ``want_features`` (KID needs them)."""
    if path.is_file():
        cached = np.load(path)
        if not want_features or "features" in cached:
            return cached["mu"], cached["sigma"], cached["features"] if want_features else None
    features = extract()
    mu, sigma = feature_statistics(features)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"mu": mu, "sigma": sigma}
    if want_features:
        payload["features"] = features.astype(np.float32)
    np.savez(path, **payload)
    return mu, sigma, features if want_features else None

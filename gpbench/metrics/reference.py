"""Reference statistics of real data, computed once per (dataset, split, extractor weights, n, protocol) and
cached as .npz. The key holds the extractor's identity (a digest of its weights) and REFERENCE_PROTOCOL, so that
new LeNet or Inception weights, or a changed way of choosing the images, never meet stale statistics; a cache
file that is truncated, foreign or made for other weights is recomputed with a one-line notice."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from gpbench.fileio import save_arrays_atomic
from gpbench.metrics.fid import feature_statistics

log = logging.getLogger(__name__)

# Raise when the images behind a reference change (their seeded choice, float64 features): old caches then miss.
REFERENCE_PROTOCOL = 2


def reference_statistics_path(cache_dir: Path, dataset: str, split: str, kind: str, count: int, available: int,
                              extractor_identity: str) -> Path:
    return Path(cache_dir) / (f"stats-{dataset}-{split}-{kind}-{extractor_identity}-{count}-of-{available}"
                              f"-v{REFERENCE_PROTOCOL}.npz")


def _read_cache(path: Path, extractor_identity: str, want_features: bool):
    """(mu, sigma, features or None), or the reason the cache at ``path`` cannot be used."""
    try:
        with np.load(path, allow_pickle=False) as cached:
            stored = {key: cached[key] for key in cached.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        return f"unreadable ({type(error).__name__})"
    if str(stored.get("extractor", "")) != extractor_identity:
        return f"made with other weights ({stored.get('extractor', 'not recorded')})"
    mu, sigma = stored.get("mu"), stored.get("sigma")
    if mu is None or sigma is None or mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        return "not reference statistics"
    if want_features and "features" not in stored:
        return None                    # valid, but without the features KID needs: recomputed silently
    return mu, sigma, stored["features"] if want_features else None


def reference_statistics_cached(path: Path, extract: Callable[[], np.ndarray], want_features: bool,
                                extractor_identity: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(mu, sigma, features or None) from ``path``, or from ``extract()`` (the real images' features) and then
    written to ``path`` atomically; the features themselves are cached too when ``want_features`` (KID)."""
    if path.is_file():
        cached = _read_cache(path, extractor_identity, want_features)
        if isinstance(cached, tuple):
            return cached
        if cached is not None:
            log.warning("%s: %s; recomputing the reference statistics", path, cached)
    features = extract()
    mu, sigma = feature_statistics(features)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"mu": mu, "sigma": sigma, "extractor": np.array(extractor_identity)}
    if want_features:
        payload["features"] = features.astype(np.float32)
    save_arrays_atomic(path, payload)
    return mu, sigma, features if want_features else None

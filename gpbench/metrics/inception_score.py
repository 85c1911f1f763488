"""Inception Score (Salimans et al. 2016) with torch-fidelity's conventions (docs/metrics.md, "Inception Score")."""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, logsumexp


def inception_score(logits, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> tuple[float, float]:
    """(mean, population std) over ``splits`` of exp(mean_i KL(p(y|x_i) || p(y))), logits in float64;
    rows permuted with RandomState(seed) first when ``shuffle`` (class-sorted samples under-estimate IS)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or len(logits) < splits:
        raise ValueError(f"logits must be (N, classes) with N >= splits={splits}, got shape {logits.shape}")
    count = len(logits)
    if shuffle:
        logits = logits[np.random.RandomState(seed).permutation(count)]
    log_p = log_softmax(logits, axis=1)
    p = np.exp(log_p)
    scores = []
    for split in range(splits):
        rows = slice(split * count // splits, (split + 1) * count // splits)
        log_q = logsumexp(log_p[rows], axis=0) - np.log(rows.stop - rows.start)   # log of the split mean of p
        scores.append(np.exp((p[rows] * (log_p[rows] - log_q)).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))

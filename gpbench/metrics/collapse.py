"""Whether a generator's samples are all the same (docs/metrics.md, "Collapsed runs").

A dead generator (e.g. a sigmoid output saturated at 0: every MNIST sample black) still gets an FID and an IS
(IS = 1 exactly): numbers that a table would average as if the run had trained. The spread of the samples
against the spread of the real data says it did not.
"""

from __future__ import annotations

import numpy as np

COLLAPSED_SPREAD = 0.01     # generated samples vary less than 1 % as much as the real data: all the same


def sample_spread(samples: np.ndarray) -> float:
    """The standard deviation across samples of each coordinate (pixel, or point coordinate), averaged."""
    flat = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    return float(flat.std(axis=0).mean())


def relative_spread(generated: np.ndarray, real: np.ndarray) -> float:
    """:func:`sample_spread` of ``generated`` over that of ``real`` (both in the same units)."""
    return sample_spread(generated) / max(sample_spread(real), 1e-12)


def is_collapsed(spread: float | None) -> bool:
    return spread is not None and spread < COLLAPSED_SPREAD

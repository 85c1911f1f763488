"""Paired timing: every timed round of the candidate sits between two runs of the reference, in the same process."""

from __future__ import annotations

import statistics
import time
from math import comb


def paired(benchmark, candidate, reference, rounds: int, warmup_rounds: int = 3) -> None:
    """Time ``candidate`` with pytest-benchmark and ``reference`` interleaved with it: reference, candidate,
    reference, ..., candidate, reference. Round i's ratio is candidate_i over the mean of the references just
    before and just after it, which cancels the machine's load drifting during the run (to first order).

    ``extra_info``: ``ratio`` (median over rounds), ``ratio_low`` / ``ratio_high`` (its distribution-free 95 %
    confidence interval, :func:`median_interval`), ``round_ratios`` and the reference's median seconds."""
    reference_seconds = []

    def time_reference():
        start = time.perf_counter()
        reference()
        reference_seconds.append(time.perf_counter() - start)

    benchmark.pedantic(candidate, setup=time_reference, rounds=rounds, warmup_rounds=warmup_rounds)
    if benchmark.disabled:
        return
    time_reference()
    measured = reference_seconds[warmup_rounds:]
    ratios = [candidate_seconds / ((before + after) / 2) for candidate_seconds, before, after
              in zip(benchmark.stats.stats.data, measured, measured[1:])]
    benchmark.extra_info["reference_median_s"] = statistics.median(measured)
    benchmark.extra_info["ratio"] = statistics.median(ratios)
    benchmark.extra_info["ratio_low"], benchmark.extra_info["ratio_high"] = median_interval(ratios)
    benchmark.extra_info["round_ratios"] = ratios


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """The order-statistic confidence interval of the median: (x_(k), x_(n+1-k)) with the largest k for which
    P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2; no assumption on the distribution. Needs n >= 6 at 95 %;
    with fewer values the interval is the whole range."""
    ordered, n = sorted(values), len(values)
    tail, k = (1 - confidence) / 2, 0
    while k < n // 2 and sum(comb(n, i) for i in range(k + 1)) / 2**n <= tail:
        k += 1
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]

"""Paired timing: the reference runs right before every timed round of the candidate, in the same process."""

from __future__ import annotations

import statistics
import time


def paired(benchmark, candidate, reference, rounds: int, warmup_rounds: int = 3) -> None:
    """Time ``candidate`` with pytest-benchmark and ``reference`` interleaved with it (reference, candidate,
    reference, ...); store the reference median and candidate/reference ratio of medians in ``extra_info``."""
    reference_seconds = []

    def time_reference():
        start = time.perf_counter()
        reference()
        reference_seconds.append(time.perf_counter() - start)

    benchmark.pedantic(candidate, setup=time_reference, rounds=rounds, warmup_rounds=warmup_rounds)
    if benchmark.disabled:
        return
    reference_median = statistics.median(reference_seconds[warmup_rounds:])
    benchmark.extra_info["reference_median_s"] = reference_median
    benchmark.extra_info["ratio"] = benchmark.stats.stats.median / reference_median

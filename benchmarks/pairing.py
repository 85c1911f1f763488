"""Paired timing: the reference runs right before every timed round of the candidate, in the same process."""

from __future__ import annotations

import statistics
import time


def paired(benchmark, candidate, reference, rounds: int, warmup_rounds: int = 3) -> None:
    """Time ``candidate`` with pytest-benchmark and ``reference`` interleaved with it (reference, candidate,
    reference, ...). ``extra_info``: the reference's median and ``ratio``, the median over rounds of
    candidate / reference of the same round (robust to the machine's load drifting during the run)."""
    reference_seconds = []

    def time_reference():
        start = time.perf_counter()
        reference()
        reference_seconds.append(time.perf_counter() - start)

    benchmark.pedantic(candidate, setup=time_reference, rounds=rounds, warmup_rounds=warmup_rounds)
    if benchmark.disabled:
        return
    measured = reference_seconds[warmup_rounds:]
    benchmark.extra_info["reference_median_s"] = statistics.median(measured)
    benchmark.extra_info["ratio"] = statistics.median(
        candidate_seconds / reference for candidate_seconds, reference in zip(benchmark.stats.stats.data, measured))

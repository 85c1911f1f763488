"""Seed statistics the tables and claims judge by: a seed summary, two summaries compared (Welch's t, or the exact
rank test where no spread exists, with the difference the seeds could detect) and Holm's adjustment of a family of
comparisons. Pure functions of numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def summarise(values: list[float | None]) -> tuple[float, float, int] | None:
    """(mean, sample std (0 for one value), count) of the values that exist and are finite."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return None
    return float(np.mean(present)), float(np.std(present, ddof=1)) if len(present) > 1 else 0.0, len(present)


SIGNIFICANCE = 0.05     # every comparison's level (two-sided)
POWER = 0.8             # the power at which a comparison's detectable difference is stated


@dataclass
class Comparison:
    """mean(first) - mean(second) from two (mean, sample std, count) summaries: its 95 % interval, two-sided p, the
    test that gave it, and the smallest difference these seeds could detect; ``adjusted_p`` once Holm-adjusted."""

    difference: float
    interval: tuple[float, float] | None     # None where no spread exists (both spreads 0)
    p: float
    test: str                                # "Welch t", "exact rank" (both spreads 0) or "identical"
    detectable: float | None                 # None: no difference is detectable at SIGNIFICANCE with these seeds
    adjusted_p: float | None = None

    @property
    def decisive_p(self) -> float:
        return self.p if self.adjusted_p is None else self.adjusted_p

    def text(self) -> str:
        """"(+0.12, 95 % CI [+0.02, +0.22], Welch t p = 0.03, Holm p = 0.09; detectable ≥ 0.1)"."""
        parts = [f"{self.difference:+.3g}"]
        if self.interval:
            parts.append(f"95 % CI [{self.interval[0]:+.3g}, {self.interval[1]:+.3g}]")
        parts.append("identical seeds" if self.test == "identical" else f"{self.test} p = {self.p:.2g}")
        if self.adjusted_p is not None:
            parts.append(f"Holm p = {self.adjusted_p:.2g}")
        detectable = (f"detectable ≥ {self.detectable:.2g}" if self.detectable is not None
                      else "no difference detectable with these seeds")
        return f"({', '.join(parts)}; {detectable})"


    def cell(self) -> str:
        """A table cell: "-0.68 [-1.2, -0.16], Holm p 0.04"."""
        shown = f"{self.difference:+.3g}" + (f" [{self.interval[0]:+.3g}, {self.interval[1]:+.3g}]" if self.interval
                                             else f" ({self.test})")
        return shown + f", {'Holm ' if self.adjusted_p is not None else ''}p {self.decisive_p:.2g}"


def compare(first: tuple[float, float, int], second: tuple[float, float, int]) -> Comparison:
    """Two seed summaries of at least 2 seeds each compared: Welch's t test and interval, with the difference it
    detects at SIGNIFICANCE with POWER, (t_{1-a/2} + t_{power}) * standard error; where both spreads are 0 (every
    seed the same value) the exact rank-sum test, whose smallest p with n1 and n2 seeds is 2 / C(n1 + n2, n1), or
    "identical" when the values are equal too."""
    from scipy.special import comb
    from scipy.stats import mannwhitneyu, t

    (mean1, std1, n1), (mean2, std2, n2) = first, second
    difference = mean1 - mean2
    v1, v2 = std1**2 / n1, std2**2 / n2
    if v1 + v2 == 0:
        smallest_p = 2 / comb(n1 + n2, n1)
        detectable = 0.0 if smallest_p <= SIGNIFICANCE else None
        if difference == 0:
            return Comparison(0.0, None, 1.0, "identical", detectable)
        p = float(mannwhitneyu([mean1] * n1, [mean2] * n2, method="exact").pvalue)
        return Comparison(difference, None, p, "exact rank", detectable)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    error = math.sqrt(v1 + v2)
    half = float(t.ppf(1 - SIGNIFICANCE / 2, df)) * error
    return Comparison(difference, (difference - half, difference + half), float(2 * t.sf(abs(difference) / error, df)),
                      "Welch t", half + float(t.ppf(POWER, df)) * error)


def holm(comparisons: list[Comparison]) -> None:
    """Holm's step-down adjustment of the comparisons' p values, in place (``adjusted_p``): the k-th smallest of m
    is multiplied by m - k + 1, kept monotone and at most 1."""
    running = 0.0
    order = sorted(range(len(comparisons)), key=lambda i: comparisons[i].p)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(comparisons) - rank) * comparisons[index].p))
        comparisons[index].adjusted_p = running

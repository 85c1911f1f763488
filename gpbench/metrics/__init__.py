"""Metrics as pure numpy/scipy functions of features (docs/metrics.md); feature extractors live apart
(:mod:`gpbench.metrics.features`, named by :mod:`gpbench.metrics.registry`), their caches in
:mod:`gpbench.metrics.lenet` and :mod:`gpbench.metrics.reference`.

``METRICS`` is the table of every metric gpbench computes: its label, its direction and the features it needs.
"""

from dataclasses import dataclass
from typing import Callable

from gpbench.metrics.fid import feature_statistics, fid_from_features, fid_from_stats
from gpbench.metrics.inception_score import inception_score
from gpbench.metrics.kid import kid_from_features
from gpbench.metrics.toy import earth_movers_distance, mode_coverage, sliced_wasserstein

IS_SPLITS = 10                          # torch-fidelity's and the original code's default
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000


@dataclass(frozen=True)
class MetricInfo:
    label: str
    lower_is_better: bool
    features: str | None                # "inception", "lenet", or None for the 2-D toy metrics
    # a 2-D toy metric's computation: (generated, real, dataset name, seed) -> its result keys; image metrics
    # come from their features (FEATURE_METRICS)
    points: Callable[..., dict] | None = None


METRICS = {
    "modes": MetricInfo("modes", False, None, lambda generated, real, dataset, seed: mode_coverage(generated, dataset)),
    "emd": MetricInfo("EMD", True, None,
                      lambda generated, real, dataset, seed: {"emd": earth_movers_distance(generated, real, seed=seed)}),
    "swd": MetricInfo("sliced W", True, None,
                      lambda generated, real, dataset, seed: {"swd": sliced_wasserstein(generated, real, seed=seed)}),
    "fid": MetricInfo("FID", True, "inception"),
    "is": MetricInfo("IS", False, "inception"),
    "kid": MetricInfo("KID", True, "inception"),
    "fid_lenet": MetricInfo("FID (LeNet)", True, "lenet"),
    "is_lenet": MetricInfo("IS (LeNet)", False, "lenet"),
}
# extractor -> (the metric that is its Fréchet distance, the one that is its Inception-style score)
FEATURE_METRICS = {"inception": ("fid", "is"), "lenet": ("fid_lenet", "is_lenet")}
# Result keys beyond the metric names: "modes" also yields the high-quality fraction (shown in percent).
RESULT_LABELS = {**{name: info.label for name, info in METRICS.items()}, "high_quality": "high-quality %"}
LOWER_IS_BETTER = {name for name, info in METRICS.items() if info.lower_is_better}
# Result keys stored as a fraction and shown in percent (tables, plots, reproduce, `gpbench eval`'s lines).
PERCENT = ("high_quality",)


def displayed(name: str, value):
    """A result as every table and line shows it: fractions in PERCENT times 100, the rest as stored."""
    return 100.0 * value if name in PERCENT and isinstance(value, (int, float)) else value

__all__ = ["FEATURE_METRICS", "IS_SPLITS", "KID_SUBSETS", "KID_SUBSET_SIZE", "LOWER_IS_BETTER", "METRICS", "PERCENT",
           "RESULT_LABELS", "MetricInfo", "displayed",
           "feature_statistics", "fid_from_features", "fid_from_stats", "inception_score", "kid_from_features"]

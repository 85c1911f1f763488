"""Metrics as pure numpy/scipy functions of features (shared/spec/metrics.md); extractors live apart."""

from gpbench.metrics.fid import fid_from_features, fid_from_stats, feature_statistics
from gpbench.metrics.inception_score import inception_score
from gpbench.metrics.kid import kid_from_features

__all__ = ["feature_statistics", "fid_from_features", "fid_from_stats", "inception_score", "kid_from_features"]

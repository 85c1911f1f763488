"""The feature-extractor registry: an extractor's name (``METRICS[...].features``) -> how it is built from
:class:`~gpbench.metrics.features.ExtractorSettings`. A new extractor subclasses FeatureExtractor in a module of
its own and joins here."""

from __future__ import annotations

from gpbench.metrics.features import ExtractorSettings, FeatureExtractor, InceptionFeatures
from gpbench.metrics.lenet import lenet_features_cached

FEATURE_EXTRACTORS = {"inception": InceptionFeatures.from_settings, "lenet": lenet_features_cached}


def build_extractor(kind: str, settings: ExtractorSettings) -> FeatureExtractor:
    return FEATURE_EXTRACTORS[kind](settings)

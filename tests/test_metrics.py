"""FID, IS and KID against torch-fidelity 0.4.0's own functions; closed forms; toy metrics."""

import numpy as np
import pytest
import torch

from gpbench.data.toy import modes, sample
from gpbench.metrics import fid_from_features, fid_from_stats, inception_score, kid_from_features
from gpbench.metrics.toy import earth_movers_distance, mode_coverage, sliced_wasserstein

fidelity_fid = pytest.importorskip("torch_fidelity.metric_fid")
fidelity_isc = pytest.importorskip("torch_fidelity.metric_isc")
fidelity_kid = pytest.importorskip("torch_fidelity.metric_kid")


def correlated_features(n, dim, seed, shift=0.0):
    rng = np.random.RandomState(seed)
    mixing = rng.randn(dim, dim) / np.sqrt(dim)
    return rng.randn(n, dim) @ mixing + shift


def test_fid_agrees_with_torch_fidelity():
    a, b = correlated_features(600, 64, 0), correlated_features(500, 64, 1, shift=0.3)
    stats = [fidelity_fid.fid_features_to_statistics(torch.from_numpy(f)) for f in (a, b)]
    reference = fidelity_fid.fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert fid_from_features(a, b) == pytest.approx(reference, rel=1e-6)


def test_fid_closed_form_for_diagonal_gaussians_and_self_distance():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert fid_from_stats(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)
    features = correlated_features(400, 32, 2)
    assert abs(fid_from_features(features, features)) < 1e-6
    shuffled = features[np.random.RandomState(0).permutation(len(features))]
    other = correlated_features(300, 32, 3)
    assert fid_from_features(shuffled, other) == pytest.approx(fid_from_features(features, other), rel=1e-10)


def test_inception_score_agrees_with_torch_fidelity():
    logits = np.random.RandomState(0).randn(1003, 50) * 3
    reference = fidelity_isc.isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=True, rng_seed=2020)
    mean, std = inception_score(logits)
    assert mean == pytest.approx(reference["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(reference["inception_score_std"], rel=1e-9)


def test_inception_score_closed_forms():
    assert inception_score(np.zeros((100, 10))) == pytest.approx((1.0, 0.0))
    confident = np.full((1000, 10), -1e4)
    confident[np.arange(1000), np.arange(1000) % 10] = 1e4
    mean, std = inception_score(confident, shuffle=False)     # every split holds 10 of each class
    assert mean == pytest.approx(10.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    # shuffled, a split's class histogram h is uneven and IS = exp(entropy(h)) < 10
    assert inception_score(confident)[0] < 10.0


def test_kid_agrees_with_torch_fidelity():
    a, b = correlated_features(300, 16, 4), correlated_features(280, 16, 5, shift=0.2)
    reference = fidelity_kid.kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=20,
                                                    kid_subset_size=100, kid_degree=3, kid_gamma=None, kid_coef0=1,
                                                    rng_seed=2020, verbose=False)
    mean, std = kid_from_features(a, b, subsets=20, subset_size=100)
    assert mean == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-6)
    assert std == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-6)


@pytest.mark.parametrize("dataset, total", [("8gaussians", 8), ("25gaussians", 25)])
def test_mode_coverage_on_exact_modes_and_on_one_mode(dataset, total):
    centres, _ = modes(dataset)
    everywhere = mode_coverage(np.repeat(centres, 3, axis=0), dataset)
    assert everywhere == {"modes": total, "total_modes": total, "high_quality": 1.0}
    one = mode_coverage(np.repeat(centres[:1], 10, axis=0), dataset)
    assert one["modes"] == 1 and one["high_quality"] == 1.0
    far = mode_coverage(np.full((5, 2), 10.0), dataset)
    assert far["modes"] == 0 and far["high_quality"] == 0.0
    assert mode_coverage(sample(dataset, 2500, 0), dataset)["modes"] == total


def test_emd_and_sliced_wasserstein_closed_forms():
    points = sample("swissroll", 200, 0)
    assert earth_movers_distance(points, points[::-1]) == pytest.approx(0.0, abs=1e-12)
    assert earth_movers_distance(points, points + np.array([3.0, 4.0])) == pytest.approx(5.0, rel=1e-9)
    shifted = sliced_wasserstein(points, points + np.array([3.0, 4.0]), projections=64, seed=1)
    directions = np.random.RandomState(1).randn(2, 64)
    directions /= np.linalg.norm(directions, axis=0)
    assert shifted == pytest.approx(np.abs(np.array([3.0, 4.0]) @ directions).mean(), rel=1e-9)


# --- collapsed runs (gpbench/metrics/collapse.py) ------------------------------------------------------------

def test_the_sample_spread_of_constant_samples_is_zero_and_of_the_data_itself_one():
    from gpbench.metrics.collapse import COLLAPSED_SPREAD, is_collapsed, relative_spread, sample_spread

    rng = np.random.RandomState(0)
    real = rng.uniform(0, 255, size=(500, 1, 4, 4))
    assert sample_spread(np.full((50, 1, 4, 4), 0.3)) == pytest.approx(0.0, abs=1e-15)
    assert sample_spread(np.array([[0.0, 2.0], [2.0, 0.0]])) == 1.0          # std 1 in both coordinates
    assert relative_spread(real, real) == 1.0
    assert relative_spread(real * 0.5, real) == pytest.approx(0.5)
    black = np.zeros((500, 1, 4, 4)) + rng.uniform(0, 1e-3, size=(500, 1, 4, 4))
    assert is_collapsed(relative_spread(black, real)) and not is_collapsed(relative_spread(real * 0.5, real))
    assert not is_collapsed(None) and is_collapsed(COLLAPSED_SPREAD / 2)


def test_every_datasets_metrics_are_computable_and_every_modes_toy_has_modes():
    """The registries agree: a toy row's metrics each have a computation on points and give finite numbers on the
    dataset's own samples; "modes" is listed exactly where the toy has modes; an image row's metrics each come
    from an extractor's features."""
    import math

    from gpbench.data import DATASETS
    from gpbench.data.toy import TOYS, sample
    from gpbench.metrics import FEATURE_METRICS, METRICS

    for name, dataset in DATASETS.items():
        assert set(dataset.metrics) <= set(METRICS), name
        if dataset.is_toy:
            assert ("modes" in dataset.metrics) == (TOYS[name].modes is not None), name
            real, generated = sample(name, 300, 1), sample(name, 300, 2)
            for metric in dataset.metrics:
                results = METRICS[metric].points(generated, real, name, 0)
                assert results and all(math.isfinite(value) for value in results.values()), (name, metric)
        else:
            assert all(METRICS[metric].features in FEATURE_METRICS
                       and metric in FEATURE_METRICS[METRICS[metric].features] + ("kid",)
                       for metric in dataset.metrics), name

"""FID from 2048-d features (n = 5000 per side): gpbench's symmetric-eigh form vs torch-fidelity 0.4.0's
eigvals form, statistics included, interleaved in the same run; ``extra_info["ratio"]`` = gpbench / torch-fidelity."""

import numpy as np
import pytest
import torch

from gpbench.metrics import fid_from_features

from pairing import paired

fidelity_fid = pytest.importorskip("torch_fidelity.metric_fid")
SAMPLES, DIMENSIONS, ROUNDS = 5000, 2048, 7   # >= 6 rounds for a 95 % interval (pairing.py)


def test_fid_2048d_vs_torch_fidelity(benchmark):
    rng = np.random.RandomState(0)
    first, second = rng.randn(SAMPLES, DIMENSIONS), rng.randn(SAMPLES, DIMENSIONS) + 0.05
    first_tensor, second_tensor = torch.from_numpy(first), torch.from_numpy(second)

    def reference():
        stats = [fidelity_fid.fid_features_to_statistics(t) for t in (first_tensor, second_tensor)]
        return fidelity_fid.fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]

    benchmark.group = "FID 5000 x 2048 vs torch-fidelity"
    benchmark.extra_info.update(gate="FID 5000 x 2048 vs torch-fidelity", samples=SAMPLES, dimensions=DIMENSIONS,
                                bound=1.0)   # numpy's default BLAS threads
    paired(benchmark, lambda: fid_from_features(first, second), reference, rounds=ROUNDS, warmup_rounds=1)
    assert fid_from_features(first, second) == pytest.approx(reference(), rel=1e-6)

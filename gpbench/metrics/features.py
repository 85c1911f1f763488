"""Feature extractors, kept apart from the statistics: torch-fidelity's Inception and a LeNet classifier.

Both take uint8 images (N, C, H, W). Inception (``inception-v3-compat``, TF-1 compatible resize and weights
``weights-inception-2015-12-05-6726825d.pth``) gives pool3 (2048) features for FID/KID and the 1008
``logits_unbiased`` for IS; grayscale is repeated to 3 channels. The LeNet (conv 32-64, fc 1024, fc 10, as
tensorflow-gan's MNIST classifier) gives its 1024 penultimate features for "FID (LeNet)" and its logits
for "IS (LeNet)" (metrics.md, "MNIST domain metrics").
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from gpbench.errors import DataError

log = logging.getLogger(__name__)

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_NAME = "inception-v3-compat"


def default_inception_weights() -> Path:
    """Where torch-fidelity's download puts the weights: the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def _inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def _batches(images: np.ndarray, batch_size: int, description: str, progress: bool):
    for start in tqdm(range(0, len(images), batch_size), desc=description, unit="batch",
                      total=math.ceil(len(images) / batch_size), disable=not progress, leave=False):
        yield images[start:start + batch_size]


class InceptionFeatures:
    """``extractor(images_uint8) -> {"pool": (N, 2048), "logits": (N, 1008)}`` in float64.

    ``weights_path=None`` uses the torch hub cache file, downloading it when a network is there; offline and
    without the file it raises a DataError saying where to put which file.
    """

    name = INCEPTION_NAME

    def __init__(self, weights_path: str | Path | None = None, device: str | torch.device = "cpu",
                 batch_size: int = 64):
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        cached = default_inception_weights()
        if weights_path is None and cached.is_file():
            weights_path = cached
        if weights_path is not None and not Path(weights_path).is_file():
            raise DataError(f"Inception weights not found at {weights_path}; download {_inception_url()} "
                            f"and pass its path, or put it at {cached}")
        try:
            model = FeatureExtractorInceptionV3(INCEPTION_NAME, ["2048", "logits_unbiased"],
                                                feature_extractor_weights_path=None if weights_path is None
                                                else str(weights_path))
        except Exception as error:
            if weights_path is None:
                raise DataError(f"Inception weights could not be downloaded ({type(error).__name__}: {error}). "
                                f"Download {_inception_url()} on a machine with network access and put it at "
                                f"{cached} (or pass its path with --inception-weights FILE)") from None
            raise DataError(f"{weights_path} is not torch-fidelity's {INCEPTION_WEIGHTS_FILE} "
                            f"({type(error).__name__}: {error})") from None
        self.model = model.to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, images: np.ndarray, progress: bool = False) -> dict[str, np.ndarray]:
        pools, logits = [], []
        for batch in _batches(images, self.batch_size, "inception features", progress):
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
            if tensor.shape[1] == 1:
                tensor = tensor.repeat(1, 3, 1, 1)
            pool, logit = self.model(tensor)
            pools.append(pool.double().cpu().numpy())
            logits.append(logit.double().cpu().numpy())
        return {"pool": np.concatenate(pools), "logits": np.concatenate(logits)}


class LeNet(nn.Module):
    """conv5x5(32) ReLU maxpool, conv5x5(64) ReLU maxpool, fc 1024 ReLU, fc 10 (on 28x28 inputs in [0, 1])."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU())
        self.head = nn.Linear(1024, classes)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(images)
        return features, self.head(features)


def _as_input(batch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(batch)).float() / 255.0


def train_lenet(images: np.ndarray, labels: np.ndarray, epochs: int, seed: int = 0, batch_size: int = 128,
                progress: bool = True) -> LeNet:
    """Adam 1e-3 on uint8 (N, 1, 28, 28) images; deterministic for a seed on CPU."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = LeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    batches_per_epoch = math.ceil(len(images) / batch_size)
    with tqdm(total=epochs * batches_per_epoch, desc=f"LeNet training ({epochs} epochs)", unit="batch",
              disable=not progress, leave=False) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(images), generator=generator).numpy()
            for start in range(0, len(images), batch_size):
                rows = order[start:start + batch_size]
                _, logits = model(_as_input(images[rows]))
                loss = nn.functional.cross_entropy(logits, labels[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bar.update(1)
    return model.eval()


class LeNetFeatures:
    """``extractor(images_uint8) -> {"pool": (N, 1024), "logits": (N, 10)}`` in float64."""

    name = "lenet"

    def __init__(self, model: LeNet, batch_size: int = 500):
        self.model = model.eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, images: np.ndarray, progress: bool = False) -> dict[str, np.ndarray]:
        pools, logits = [], []
        for batch in _batches(images, self.batch_size, "LeNet features", progress):
            pool, logit = self.model(_as_input(batch))
            pools.append(pool.double().numpy())
            logits.append(logit.double().numpy())
        return {"pool": np.concatenate(pools), "logits": np.concatenate(logits)}

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        predictions = self(images)["logits"].argmax(axis=1)
        return float((predictions == np.asarray(labels)).mean())

"""The LeNet classifier behind "FID (LeNet)" and "IS (LeNet)" on MNIST-like data: trained once per dataset on
its training split and cached (docs/metrics.md, "MNIST-like data").

conv5x5(32) ReLU maxpool, conv5x5(64) ReLU maxpool, fc 1024 ReLU, fc 10, as tensorflow-gan's MNIST
classifier; Adam 1e-3, batch 128, enough epochs for at least 60,000 sample passes (at least 2).
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gpbench.metrics.features import ExtractorSettings, FeatureExtractor
from gpbench.progress import progress_bar
from gpbench.fileio import load_torch, state_digest, torch_save_atomic

log = logging.getLogger(__name__)

LENET_MIN_SAMPLE_PASSES = 60_000


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
    with progress_bar(total=epochs * batches_per_epoch, desc=f"LeNet training ({epochs} epochs)", unit="batch",
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


class LeNetFeatures(FeatureExtractor):
    """``extractor(images_uint8) -> {"pool": (N, 1024), "logits": (N, 10)}`` in float64."""

    label = "LeNet features"

    def __init__(self, model: LeNet, batch_size: int = 500):
        super().__init__(batch_size, f"lenet-{state_digest(model.state_dict())[:16]}")
        self.model = model.eval()

    def features(self, batch):
        return self.model(_as_input(batch))

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        predictions = self(images)["logits"].argmax(axis=1)
        return float((predictions == np.asarray(labels)).mean())


def default_epochs(train_size: int) -> int:
    return max(2, -(-LENET_MIN_SAMPLE_PASSES // train_size))


def _read_lenet_cache(path: Path) -> dict | None:
    """The cached LeNet's state, or None (with a one-line notice) when the file is truncated, forged or foreign:
    the LeNet is then trained again and the file replaced."""
    try:
        state = load_torch(path)
        LeNet().load_state_dict(state["model"])
        float(state["accuracy"])
        return state
    except Exception as error:          # torch.load, a missing key or a shape mismatch fail alike
        log.warning("%s cannot be used (%s: %s); training the LeNet again", path, type(error).__name__,
                    str(error).splitlines()[0] if str(error) else "")
        return None


def lenet_features_cached(settings: ExtractorSettings) -> LeNetFeatures:
    """The dataset's LeNet: loaded from ``cache_dir`` or trained on its classifier split and cached there.
    Its notes give the epochs, the training size and the accuracy with where it was measured."""
    dataset = settings.dataset
    train_x, train_y, test_x, test_y, accuracy_on = dataset.classifier_split(settings.data_root)
    epochs = settings.lenet_epochs or default_epochs(len(train_x))
    digest = hashlib.sha1(np.ascontiguousarray(train_x[::97]).tobytes()).hexdigest()[:10]
    path = settings.cache_dir / f"lenet-{dataset.name}-{len(train_x)}-{digest}-{epochs}epochs.pt"
    state = _read_lenet_cache(path) if path.is_file() else None
    if state is not None:
        model = LeNet()
        model.load_state_dict(state["model"])
        extractor = LeNetFeatures(model)
        accuracy = state["accuracy"]
    else:
        log.info("training the LeNet classifier for %s: %d epochs on %d images", dataset.name, epochs, len(train_x))
        extractor = LeNetFeatures(train_lenet(train_x, train_y, epochs, progress=settings.progress))
        accuracy = extractor.accuracy(test_x, test_y)
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        torch_save_atomic(path, {"model": extractor.model.state_dict(), "accuracy": accuracy,
                                 "accuracy_on": accuracy_on, "epochs": epochs})
    extractor.notes["lenet"] = (f"LeNet (conv32-conv64-fc1024) penultimate features for FID, logits for IS; "
                                f"{epochs} epochs on {len(train_x):,} images, accuracy {accuracy:.4f} on "
                                f"{accuracy_on}; weights {path}")
    extractor.notes["lenet_accuracy"] = accuracy
    return extractor

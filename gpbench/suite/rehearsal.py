"""Rehearsing the GPU path on CPU (``gpbench rehearsal-data``): a synthetic CIFAR-10 written in the real on-disk
format and synthetic image folders of PNG files (``imagefolder32``, ``imagefolder64``), so that the real loaders
read them, and torch-fidelity's Inception architecture with random weights saved to a file, so that evaluation goes
through the real ``--inception-weights`` path.

Both say what they are: the data folder holds a ``SYNTHETIC`` marker (the loader then skips the md5 check, which
synthetic files cannot pass, and names the data SYNTHETIC DATA everywhere), and the weights file has a
``.random.json`` companion (evaluation then names the extractor RANDOM INCEPTION). Real data without the marker
is checked against torchvision's md5s as always.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from gpbench.data.imagefolder import IMAGE_SUFFIXES
from gpbench.data.images import CIFAR_DIR, SYNTHETIC_MARKER
from gpbench.errors import DataError
from gpbench.metrics.features import INCEPTION_NAME, RANDOM_WEIGHTS_SUFFIX
from gpbench.fileio import replace_atomically, write_text_atomic

CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
SYNTHETIC_FOLDERS = ("imagefolder32", "imagefolder64")
SYNTHETIC_DATASETS = ("cifar10", *SYNTHETIC_FOLDERS)     # what `gpbench rehearsal-data` writes
SYNTHETIC_FOLDER_IMAGES = 60
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def synthetic_cifar10_images(count: int, rng: np.random.RandomState) -> tuple[np.ndarray, list[int]]:
    """``count`` 32x32x3 uint8 images, one smooth colour pattern per class plus noise, CIFAR's row layout."""
    labels = rng.randint(0, 10, size=count)
    y, x = np.mgrid[0:32, 0:32] / 31.0
    images = np.empty((count, 3, 32, 32))
    for index, label in enumerate(labels):
        phase = 2 * np.pi * label / 10
        for channel in range(3):
            images[index, channel] = 0.5 + 0.4 * np.sin(3 * x * np.cos(phase) + 3 * y * np.sin(phase) + channel)
    images += rng.normal(0, 0.1, size=images.shape)
    pixels = np.clip(np.rint(255 * images), 0, 255).astype(np.uint8)
    return pixels.reshape(count, 3072), labels.tolist()


def refuse_real_data(folder: Path, present: list[str], guess: str) -> None:
    """Create ``folder`` for synthetic data, unless it holds data files (``present``) without the SYNTHETIC marker."""
    if present and not (folder / SYNTHETIC_MARKER).is_file():
        raise DataError(f"{folder} holds {present[0]} without a {SYNTHETIC_MARKER} marker ({guess}): "
                        "rehearsal data is never written over it; give the rehearsal another --data-root")
    folder.mkdir(parents=True, exist_ok=True)


def write_synthetic_cifar10(data_root: str | Path, images_per_batch: int, seed: int = 0) -> Path:
    """``data_root``/cifar-10-batches-py/ with every batch file of the real format and the SYNTHETIC marker."""
    folder = Path(data_root) / CIFAR_DIR
    refuse_real_data(folder, [name for name in (*CIFAR_BATCHES, "batches.meta") if (folder / name).exists()],
                     "real CIFAR-10?")
    rng = np.random.RandomState(seed)
    for name in CIFAR_BATCHES:
        data, labels = synthetic_cifar10_images(images_per_batch, rng)
        payload = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                   b"filenames": [f"synthetic_{name}_{i}.png".encode() for i in range(images_per_batch)]}
        replace_atomically(folder / name, lambda path: path.write_bytes(pickle.dumps(payload, protocol=2)))
    meta = {b"label_names": [name.encode() for name in CIFAR_CLASSES], b"num_cases_per_batch": images_per_batch,
            b"num_vis": 3072}
    replace_atomically(folder / "batches.meta", lambda path: path.write_bytes(pickle.dumps(meta, protocol=2)))
    write_text_atomic(folder / SYNTHETIC_MARKER,
                      f"SYNTHETIC DATA written by `gpbench rehearsal-data` (seed {seed}, {images_per_batch} images per "
                      "batch): not CIFAR-10. Every number computed on it is a rehearsal number.\n")
    return folder


def write_synthetic_image_folder(data_root: str | Path, name: str, count: int, seed: int = 0) -> Path:
    """``data_root``/``name``/ with ``count`` PNG files of CIFAR's synthetic patterns, upscaled to 80x64 (not square:
    the loader's centre crop has work to do), and the SYNTHETIC marker."""
    from PIL import Image

    folder = Path(data_root) / name
    present = [path.name for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES] if folder.is_dir() else []
    refuse_real_data(folder, present, "real images?")
    flat, _ = synthetic_cifar10_images(count, np.random.RandomState(seed + 1))
    for index, pixels in enumerate(flat.reshape(count, 3, 32, 32).transpose(0, 2, 3, 1)):
        image = Image.fromarray(pixels).resize((80, 64), Image.BILINEAR)
        replace_atomically(folder / f"synthetic_{index:04d}.png", lambda path: image.save(path, format="PNG"))
    write_text_atomic(folder / SYNTHETIC_MARKER,
                      f"SYNTHETIC DATA written by `gpbench rehearsal-data` (seed {seed}, {count} images): not real "
                      "images. Every number computed on it is a rehearsal number.\n")
    return folder


def write_synthetic_once(dataset: str, data_root: Path, images_per_batch: int) -> None:
    """The synthetic stand-in for ``dataset`` (one of SYNTHETIC_DATASETS) under ``data_root``, unless one is there:
    CIFAR-10 with ``images_per_batch`` images per batch file, an image folder with SYNTHETIC_FOLDER_IMAGES."""
    folder = data_root / (CIFAR_DIR if dataset == "cifar10" else dataset)
    if (folder / SYNTHETIC_MARKER).is_file():
        return
    if dataset == "cifar10":
        write_synthetic_cifar10(data_root, images_per_batch)
    else:
        write_synthetic_image_folder(data_root, dataset, SYNTHETIC_FOLDER_IMAGES)


def write_random_inception(path: str | Path, seed: int = 0) -> Path:
    """torch-fidelity's inception-v3-compat architecture with random weights, saved where --inception-weights
    can read it, and its ``.random.json`` companion."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # torch-fidelity's constructor always loads weights: skip the download and the loading, keep the random init
    with mock.patch.object(inception, "load_state_dict_from_url", return_value={}), \
            mock.patch.object(inception.FeatureExtractorInceptionV3, "load_state_dict"):
        torch.manual_seed(seed)
        model = inception.FeatureExtractorInceptionV3(INCEPTION_NAME, ["2048", "logits_unbiased"])
    replace_atomically(path, lambda temporary: torch.save(model.state_dict(), temporary))
    write_text_atomic(path.with_name(path.name + RANDOM_WEIGHTS_SUFFIX),
                      json.dumps({"random": True, "seed": seed, "architecture": INCEPTION_NAME}) + "\n")
    return path

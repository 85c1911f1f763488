"""A folder of images as a dataset (Figure 2 on LSUN bedrooms exported to files, Table 1 on downsampled ImageNet):
every PNG or JPEG under a folder, centre-cropped to a square and resized to 32 or 64 pixels with PIL's box filter
(an area average, as downsampled ImageNet was made), RGB, uint8 (N, 3, S, S), in sorted path order.

Decoding is the slow part, so the pixels are cached beside their identity: the sorted relative paths, sizes and
modification times of the files and the target size. An unreadable file stops the load with one line naming it.
A folder has no split of its own: every HELD_OUT_EVERY-th image in sorted order is held out ("test", for the
critic's dev cost), the rest is "train" (the training set and the FID reference).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from gpbench.data.images import SYNTHETIC_MARKER
from gpbench.errors import DataError
from gpbench.fileio import save_arrays_atomic

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SIZES = (32, 64)
HELD_OUT_EVERY = 20
SPLITS = ("train", "test")
SYNTHETIC_FOLDER_SOURCE = "SYNTHETIC DATA (not real images: written by gpbench rehearsal-data)"


def list_images(folder: str | Path) -> list[Path]:
    """Every PNG / JPEG file under ``folder`` (any depth), sorted; a missing or empty folder is a DataError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; put the PNG or JPEG images (any sub-folders) there")
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise DataError(f"{folder}: no PNG or JPEG files ({', '.join(IMAGE_SUFFIXES)}) under this folder")
    return files


def folder_identity(folder: Path, files: list[Path], size: int) -> str:
    """A digest of what the pixels depend on: each file's relative path, byte size and modification time, the size."""
    listing = [[str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns] for path in files]
    return hashlib.sha256(json.dumps([listing, size]).encode()).hexdigest()[:16]


def square_resized(path: Path, size: int) -> np.ndarray:
    """One image: RGB, centre-cropped to a square, box-resized to size x size, as uint8 (3, size, size)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = _to_rgb(image)
            side = min(image.size)
            left, top = (image.size[0] - side) // 2, (image.size[1] - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BOX)
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except Image.DecompressionBombError:
        raise DataError(f"{path}: more pixels than Pillow's decompression-bomb limit ({Image.MAX_IMAGE_PIXELS:,}); "
                        "shrink the image or remove it") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path}: unreadable image ({' '.join(str(error).split())}); remove or replace the file") from None


def _to_rgb(image):
    """8-bit RGB; a 16-bit or 32-bit integer greyscale image is scaled from its bit depth (Pillow's convert would
    clip every value above 255 to white)."""
    from PIL import Image

    if image.mode.startswith("I"):
        depth = 65535.0 if image.mode.startswith("I;16") or np.asarray(image).max() <= 65535 else 2.0 ** 32 - 1
        grey = np.clip(np.round(np.asarray(image, dtype=np.float64) * (255.0 / depth)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return image.convert("RGB")


def _read_cache(cache: Path | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached pixels, or None when there is no cache or it is unreadable or of another shape (recomputed)."""
    if cache is None or not cache.is_file():
        return None
    try:
        pixels = np.load(cache, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        pixels = None
    if pixels is None or pixels.shape != shape or pixels.dtype != np.uint8:
        logging.getLogger(__name__).info("%s: damaged or foreign cache, decoding the images again", cache)
        return None
    return pixels


def _write_cache(cache: Path, pixels: np.ndarray) -> None:
    """Keep the decoded pixels for next time; where the folder cannot be written (a read-only data root), go on
    without the cache, saying where it would have gone."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_arrays_atomic(cache, pixels)
    except OSError as error:
        logging.getLogger(__name__).warning(
            "cannot write the pixel cache %s (%s); going on without it (the images are decoded again next time): "
            "make that folder writable, or point data_root at a writable copy", cache, error.strerror or error)


def load_image_folder(folder: str | Path, size: int, cache_dir: str | Path | None = None) -> tuple[np.ndarray, str]:
    """(uint8 images (N, 3, size, size), a sentence saying which data it is), from the cache when its identity
    matches the folder's current files."""
    if size not in SIZES:
        raise DataError(f"image size {size}: an image folder is resized to {' or '.join(map(str, SIZES))} pixels")
    folder = Path(folder)
    files = list_images(folder)
    identity = folder_identity(folder, files, size)
    cache = Path(cache_dir) / f"imagefolder-{identity}.npy" if cache_dir else None
    pixels = _read_cache(cache, (len(files), 3, size, size))
    if pixels is None:
        pixels = np.stack([square_resized(path, size) for path in files])
        if cache is not None:
            _write_cache(cache, pixels)
    synthetic = f"{SYNTHETIC_FOLDER_SOURCE}: " if (folder / SYNTHETIC_MARKER).is_file() else ""
    return pixels, f"{synthetic}{len(pixels):,} images under {folder}, centre-cropped and resized to {size}x{size}"


def load_split(folder: str | Path, size: int, split: str, cache_dir: str | Path | None = None
               ) -> tuple[np.ndarray, str]:
    """(uint8 images of ``split``, a sentence saying which they are): "test" every HELD_OUT_EVERY-th image in sorted
    order, "train" the others."""
    if split not in SPLITS:
        raise DataError(f"{folder}: an image folder has the splits {', '.join(SPLITS)}, not {split!r}")
    pixels, source = load_image_folder(folder, size, cache_dir)
    held_out = np.arange(len(pixels)) % HELD_OUT_EVERY == 0
    chosen = pixels[held_out] if split == "test" else pixels[~held_out]
    if not len(chosen):
        raise DataError(f"{folder}: {len(pixels)} image{'s' * (len(pixels) != 1)} is too few: every "
                        f"{HELD_OUT_EVERY}th is held out, so the {split} split is empty; put at least 2 images there")
    part = (f"every {HELD_OUT_EVERY}th image, held out" if split == "test"
            else f"all but every {HELD_OUT_EVERY}th image")
    return chosen, f"{source}; {split} split: {len(chosen):,} images ({part})"

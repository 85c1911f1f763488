"""Training data: toy samplers and image loaders behind one ``make_stream(config)``.

The loaders own download, checksum and "which file goes where" errors (gpbench.DataError).
"""

from __future__ import annotations

from gpbench.data import images, toy
from gpbench.data.streams import EpochStream, Stream


def make_stream(config: dict) -> tuple[Stream, str]:
    """(stream of real training batches in the model's range, a sentence saying which data it is)."""
    dataset, batch_size, seed = config["dataset"], config["batch_size"], config["seed"]
    if dataset in toy.NAMES:
        return toy.stream(dataset, batch_size, seed), f"{dataset} (gan_toy.py recipe)"
    if dataset in ("mnist", "fashion-mnist"):
        pixels, _, source = images.load_mnist_like(dataset, config["data_root"], "train")
        return EpochStream(pixels, batch_size, seed, transform=images.to_unit_range), source
    pixels, _ = images.load_cifar10(config["data_root"], "train")
    transform = images.to_symmetric_range_dequantized if config["dequantize"] else images.to_symmetric_range
    return EpochStream(pixels, batch_size, seed, transform=transform), f"cifar10 train split ({len(pixels):,} images)"

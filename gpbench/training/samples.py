"""Sample pictures written during training: image grids and 2-D scatter plots of the generator on fixed noise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gpbench.plotting import plt
from gpbench.data import Dataset, toy
from gpbench.fileio import replace_atomically
from gpbench.seeds import stream_seed

SAMPLE_COUNT = 64                 # images in a grid
TOY_SAMPLE_COUNT = 1000           # points in a scatter plot, generated and real each


def to_uint8(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map model outputs in ``value_range`` to uint8 pixels, rounding to nearest."""
    low, high = value_range
    scaled = (np.asarray(images, dtype=np.float64) - low) / (high - low) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def image_grid(pixels: np.ndarray, columns: int | None = None) -> np.ndarray:
    """uint8 (N, C, H, W) -> one (rows*H, columns*W[, C]) image with a 1-pixel border."""
    count, channels, height, width = pixels.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + 1) + 1, columns * (width + 1) + 1, channels), dtype=np.uint8)
    for index in range(count):
        top, left = 1 + (index // columns) * (height + 1), 1 + (index % columns) * (width + 1)
        grid[top:top + height, left:left + width] = pixels[index].transpose(1, 2, 0)
    return grid[..., 0] if channels == 1 else grid


def save_image_grid(path: Path, images: np.ndarray, value_range: tuple[float, float]) -> None:
    grid = image_grid(to_uint8(images, value_range))
    replace_atomically(path, lambda temporary: plt.imsave(temporary, grid, cmap="gray" if grid.ndim == 2 else None,
                                                          vmin=0, vmax=255, format="png"))


def save_scatter(path: Path, real: np.ndarray, fake: np.ndarray, title: str) -> None:
    figure, axes = plt.subplots(figsize=(4, 4), dpi=100)
    axes.scatter(real[:, 0], real[:, 1], s=4, c="tab:orange", marker="+", label="real")
    axes.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:green", marker="+", label="generated")
    axes.set_xlim(-3, 3)
    axes.set_ylim(-3, 3)
    axes.set_aspect("equal")
    axes.set_title(title, fontsize=9)
    axes.legend(loc="upper right", fontsize=7)
    figure.tight_layout()
    try:
        replace_atomically(path, lambda temporary: figure.savefig(temporary, format="png"))
    finally:
        plt.close(figure)


class SamplePictures:
    """A run's sample pictures: its generator on fixed noise (a stream of its own, apart from training), drawn
    over fixed real points for a toy, as an image grid otherwise."""

    def __init__(self, dataset: Dataset, seed: int, noise_dim: int, device: torch.device):
        count = TOY_SAMPLE_COUNT if dataset.is_toy else SAMPLE_COUNT
        noise = torch.Generator().manual_seed(stream_seed(seed, "plot_noise"))
        self.noise = torch.randn(count, noise_dim, generator=noise).to(device)
        self.real = toy.sample(dataset.name, count, stream_seed(seed, "plot_real_points")) if dataset.is_toy else None
        self.value_range = dataset.value_range

    @torch.no_grad()
    def save(self, generator: torch.nn.Module, path: Path, title: str) -> None:
        generated = generator(self.noise).cpu().numpy()
        if self.real is not None:
            save_scatter(path, self.real, generated, title)
        else:
            save_image_grid(path, generated, self.value_range)

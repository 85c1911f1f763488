"""Endless batch streams whose whole state (RNG and position) can be saved and restored for bitwise resume."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


def numpy_state_to_tensors(state: tuple) -> dict:
    """A RandomState's ``get_state()`` in the plain containers and tensors ``torch.load(weights_only=True)`` reads
    (run files never hold pickled numpy objects: a pickle can run code)."""
    name, keys, position, has_gauss, cached = state
    return {"bit_generator": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def numpy_state_from_tensors(state: dict) -> tuple:
    """The inverse of :func:`numpy_state_to_tensors`, for ``RandomState.set_state``."""
    return (state["bit_generator"], state["keys"].numpy().astype(np.uint32), state["position"], state["has_gauss"],
            state["cached_gaussian"])


class Stream:
    """``next()`` returns the next float32 batch in the model's range."""

    def __init__(self, batch_size: int, seed: int):
        self.batch_size = batch_size
        self.rng = np.random.RandomState(seed)

    def next(self) -> np.ndarray:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {"rng": numpy_state_to_tensors(self.rng.get_state())}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(numpy_state_from_tensors(state["rng"]))


class SamplerStream(Stream):
    """A fresh batch from ``sampler(n, rng)`` every time (gan_toy.py's 8gaussians and swissroll)."""

    def __init__(self, sampler: Callable[[int, np.random.RandomState], np.ndarray], batch_size: int, seed: int):
        super().__init__(batch_size, seed)
        self.sampler = sampler

    def next(self) -> np.ndarray:
        return self.sampler(self.batch_size, self.rng)


class EpochStream(Stream):
    """Full batches of a fixed array, in an order shuffled every epoch (tflib's mnist/cifar generators) or
    once (gan_toy.py's 25gaussians, ``reshuffle=False``); the partial last batch is dropped.
    ``transform(batch, rng)`` maps stored rows (e.g. uint8 pixels) to the model's range."""

    def __init__(self, data: np.ndarray, batch_size: int, seed: int, reshuffle: bool = True,
                 transform: Callable[[np.ndarray, np.random.RandomState], np.ndarray] | None = None):
        super().__init__(batch_size, seed)
        if len(data) < batch_size:
            raise ValueError(f"{len(data)} examples cannot fill one batch of {batch_size}")
        self.data = data
        self.reshuffle = reshuffle
        self.transform = transform
        self.order = self.rng.permutation(len(data))
        self.position = 0

    def next(self) -> np.ndarray:
        if self.position + self.batch_size > len(self.data):
            if self.reshuffle:
                self.order = self.rng.permutation(len(self.data))
            self.position = 0
        rows = self.data[self.order[self.position:self.position + self.batch_size]]
        self.position += self.batch_size
        return self.transform(rows, self.rng) if self.transform else rows

    def state_dict(self) -> dict:
        return {**super().state_dict(), "order": torch.from_numpy(self.order.astype(np.int64)),
                "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.order = state["order"].numpy().astype(self.order.dtype)
        self.position = int(state["position"])

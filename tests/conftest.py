"""Shared test fixtures."""

import contextlib

import pytest
import torch

from gpbench.training.train import Trainer


@pytest.fixture(autouse=True)
def restore_threads():
    """Trainers set torch's thread count from their config; put it back after each test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def interrupt_at(monkeypatch):
    """``with interrupt_at(k):`` every Trainer in the block stops with KeyboardInterrupt (Ctrl-C) at iteration k."""
    @contextlib.contextmanager
    def interrupting(stop_at: int):
        original = Trainer.train_iteration

        def interrupted(self, iteration):
            if iteration == stop_at:
                raise KeyboardInterrupt
            return original(self, iteration)

        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "train_iteration", interrupted)
            yield
    return interrupting

"""Shared test fixtures."""

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_threads():
    """Trainers set torch's thread count from their config; put it back after each test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)

"""Shared benchmark fixtures."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Time torch code on one thread: stable on a 2-core machine whatever the other core does."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(items):
    """Every benchmark is slow (a timed comparison, or one untimed round of it under plain pytest)."""
    for item in items:
        if "benchmarks" in item.path.parts:
            item.add_marker(pytest.mark.slow)

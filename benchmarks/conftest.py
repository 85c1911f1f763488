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

"""Fixtures of the trainer tests."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(autouse=True)
def one_thread():
    """Bitwise comparisons need a fixed thread count (the CLI's default is 1); the CLI
    also switches torch to deterministic algorithms, undone here for other tests."""
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)

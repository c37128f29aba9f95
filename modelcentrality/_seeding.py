"""Seeded randomness: every draw in the package goes through a numpy Generator."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn None, an int, a SeedSequence or a Generator into a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def keyed_rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A Generator determined by a seed and stable keys (e.g. a model name).

    Draws tied to a model name rather than a position keep a model's generated sets the
    same when the zoo is reordered or grows.
    """
    words = [int(seed)]
    for key in keys:
        words.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key))
    return np.random.default_rng(words)

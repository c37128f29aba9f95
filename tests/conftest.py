"""Shared fixtures: small synthetic zoos written as real ONNX model folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelcentrality.testing._synthetic import make_synthetic_zoo

#: A fast protocol for tests: fewer votes and a smaller scale set than the paper's.
FAST = {"votes": 120, "scale_samples": 3000}


@pytest.fixture(scope="session")
def synthetic_zoo_master(tmp_path_factory) -> Path:
    """4 near-disentangled (entanglement 0.1) and 4 entangled (1.0) models, 4 factors."""
    path = tmp_path_factory.mktemp("zoo") / "synthetic"
    make_synthetic_zoo(path, random_state=0)
    return path


@pytest.fixture
def synthetic_zoo(synthetic_zoo_master, tmp_path) -> Path:
    """A private copy of the synthetic zoo that a test may damage."""
    path = tmp_path / "zoo"
    shutil.copytree(synthetic_zoo_master, path)
    return path

"""Test helpers for users and adapter authors: synthetic zoos with a known answer, and
conformance suites for models (:func:`check_model`) and backends (:func:`check_backend`)."""

from ._checks import CHECK_PROTOCOL, check_backend, check_model
from ._synthetic import (
    SyntheticDataset,
    SyntheticModel,
    SyntheticWorld,
    make_leader_zoo,
    make_structured_zoo,
    make_synthetic_zoo,
    mixing_matrix,
    write_synthetic_model,
)

__all__ = [
    "CHECK_PROTOCOL",
    "SyntheticDataset",
    "SyntheticModel",
    "SyntheticWorld",
    "check_backend",
    "check_model",
    "make_leader_zoo",
    "make_structured_zoo",
    "make_synthetic_zoo",
    "mixing_matrix",
    "write_synthetic_model",
]

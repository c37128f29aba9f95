"""Baseline selectors that ModelCentrality is compared with: UDR (Duan et al., ICLR 2020)."""

from ._udr import (
    KL_THRESHOLD,
    METHODS,
    UDRResult,
    encode_representation,
    gaussian_kl,
    relative_strength,
    udr_for_models,
    udr_scores,
)

__all__ = [
    "KL_THRESHOLD",
    "METHODS",
    "UDRResult",
    "encode_representation",
    "gaussian_kl",
    "relative_strength",
    "udr_for_models",
    "udr_scores",
]

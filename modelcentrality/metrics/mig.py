"""Mutual Information Gap (Chen et al. 2018), disentanglement_lib's discrete version.

Codes are binned per dim (20 equal-width bins); for each factor, the gap between the
largest and second largest mutual information with a code dim is divided by the factor's
entropy, and the gaps are averaged over factors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..datasets.base import GroundTruthDataset
from .utils import (
    RepresentationFunction,
    check_count,
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    metric_docstring,
    sample_codes,
)

DEFAULTS = {"n_train": 10_000, "n_bins": 20}
SAMPLE_KEYS = ("n_train",)


def mutual_info_gap(mutual_info: np.ndarray, entropy: np.ndarray) -> float:
    """Mean over factors of (top MI - second MI) / H(factor).

    Parameters
    ----------
    mutual_info : ndarray of shape (E, K)
    entropy : ndarray of shape (K,)
        Factors with zero entropy (a single value in the sample) carry no information
        and are left out of the mean; with one code dim the second MI is 0.
    """
    ranked = np.sort(mutual_info, axis=0)[::-1]
    second = ranked[1] if ranked.shape[0] > 1 else np.zeros(ranked.shape[1])
    informative = entropy > 0
    if not informative.any():
        return 0.0
    return float(np.mean((ranked[0] - second)[informative] / entropy[informative]))


@metric_docstring
def compute_mig(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    random_state: Any = 0,
    n_train: int = DEFAULTS["n_train"],
    n_bins: int = DEFAULTS["n_bins"],
) -> dict[str, float]:
    """Mutual Information Gap.

    Parameters
    ----------
    {common parameters}
    n_train : int
        Observations the mutual information is estimated on.
    n_bins : int
        Histogram bins per code dim.

    Returns
    -------
    dict
        ``discrete_mig``.
    """
    n_train = check_count("n_train", n_train)
    codes, factors = sample_codes(representation_function, dataset, n_train, random_state)
    mutual_info = discrete_mutual_info(histogram_discretize(codes, n_bins), factors)
    return {"discrete_mig": mutual_info_gap(mutual_info, discrete_entropy(factors))}

"""Modularity and Explicitness (Ridgeway & Mozer 2018), disentanglement_lib's version.

- Modularity: with m (E x K) the mutual information of the binned codes (20 bins) with the
  factors, each code scores ``1 - (sum_k m^2 - max_k m^2) / (max_k m^2 (K - 1))``: 1 when it
  informs about one factor only, 0 when it informs about nothing. Averaged over codes.
- Explicitness: per factor, a logistic regression (scikit-learn defaults) on all the
  standardised codes; the one-vs-rest ROC-AUC of its class probabilities, averaged over
  classes and then over factors, on the training and on the test set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._seeding import check_random_state
from ..datasets.base import GroundTruthDataset
from .utils import (
    RepresentationFunction,
    discrete_mutual_info,
    histogram_discretize,
    metric_docstring,
    quiet_convergence,
    sample_train_test,
    sklearn_seed,
    standardize,
)

DEFAULTS = {"n_train": 10_000, "n_test": 5_000, "n_bins": 20}
SAMPLE_KEYS = ("n_train", "n_test")


def modularity(mutual_info: np.ndarray) -> float:
    """Mean over codes of the modularity of each code's row of mutual information (E, K)."""
    squared = mutual_info**2
    top = squared.max(axis=1)
    n_factors = squared.shape[1]
    score = np.zeros(squared.shape[0])
    informative = top > 0
    if n_factors == 1:
        score[informative] = 1.0
    else:
        spill = squared[informative].sum(axis=1) - top[informative]
        score[informative] = 1.0 - spill / (top[informative] * (n_factors - 1))
    return float(score.mean())


def _class_auc(labels: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Macro one-vs-rest ROC-AUC over the classes with positives and negatives in labels.

    Each class's AUC is the Mann-Whitney statistic of its probability column (ties count
    half), which is what ``sklearn.metrics.roc_auc_score`` computes.
    """
    # Deferred import: see the package docstring.
    from scipy.stats import rankdata

    positive = labels[:, None] == classes[None, :]
    n_pos = positive.sum(axis=0)
    n_neg = len(labels) - n_pos
    valid = (n_pos > 0) & (n_neg > 0)
    if not valid.any():
        return float("nan")
    ranks = rankdata(proba[:, valid], axis=0)
    n_pos, n_neg = n_pos[valid], n_neg[valid]
    rank_sum = (ranks * positive[:, valid]).sum(axis=0)
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(auc.mean())


def explicitness(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Mean over factors of the classifiers' ROC-AUC on the training and on the test set.

    Codes must already be standardised; every factor must vary in the training set.
    """
    # Deferred import: see the package docstring.
    from sklearn.linear_model import LogisticRegression

    train_auc, test_auc = [], []
    with quiet_convergence():
        for j in range(factors_train.shape[1]):
            model = LogisticRegression(random_state=sklearn_seed(rng))
            model.fit(codes_train, factors_train[:, j])
            train_auc.append(
                _class_auc(factors_train[:, j], model.predict_proba(codes_train), model.classes_)
            )
            test_auc.append(
                _class_auc(factors_test[:, j], model.predict_proba(codes_test), model.classes_)
            )
    return float(np.nanmean(train_auc)), float(np.nanmean(test_auc))


@metric_docstring
def compute_modularity(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    random_state: Any = 0,
    n_train: int = DEFAULTS["n_train"],
    n_test: int = DEFAULTS["n_test"],
    n_bins: int = DEFAULTS["n_bins"],
) -> dict[str, float]:
    """Modularity and explicitness scores.

    Parameters
    ----------
    {common parameters}
    n_train, n_test : int
        Observations for the mutual information and classifier fits, and for testing.
    n_bins : int
        Histogram bins per code dim.

    Returns
    -------
    dict
        ``modularity_score``, ``explicitness_score_train``, ``explicitness_score_test``.
        Factors with a single value in the training sample are left out.
    """
    rng = check_random_state(random_state)
    codes_train, factors_train, codes_test, factors_test = sample_train_test(
        representation_function, dataset, n_train, n_test, rng
    )
    mutual_info = discrete_mutual_info(histogram_discretize(codes_train, n_bins), factors_train)
    train_norm, test_norm = standardize(codes_train, codes_test)
    train_score, test_score = explicitness(train_norm, factors_train, test_norm, factors_test, rng)
    return {
        "modularity_score": modularity(mutual_info),
        "explicitness_score_train": train_score,
        "explicitness_score_test": test_score,
    }

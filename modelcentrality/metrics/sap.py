"""Separated Attribute Predictability (Kumar et al. 2018), disentanglement_lib's version.

A score matrix S (E x K) says how well each single code dim predicts each factor: for
discrete factors (the default) the test accuracy of a linear SVM (C = 0.01, balanced
class weights) fit on that one dim; for continuous factors the squared correlation. The
SAP score is the mean over factors of the gap between the best and second best dim.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._seeding import check_random_state
from ..datasets.base import GroundTruthDataset
from .utils import (
    RepresentationFunction,
    metric_docstring,
    quiet_convergence,
    sample_train_test,
    sklearn_seed,
)

DEFAULTS = {"n_train": 10_000, "n_test": 5_000, "continuous_factors": False}
SAMPLE_KEYS = ("n_train", "n_test")

#: Code dims with a variance at or below this have a zero continuous score.
_MIN_VARIANCE = 1e-12


def continuous_score_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Squared correlation of every code dim with every factor, shape (E, K)."""
    codes = codes - codes.mean(axis=0)
    factors = factors - factors.mean(axis=0)
    n = codes.shape[0]
    cov = codes.T @ factors / (n - 1)
    var_codes = (codes**2).sum(axis=0) / (n - 1)
    var_factors = (factors**2).sum(axis=0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = cov**2 / np.outer(var_codes, var_factors)
    score[var_codes <= _MIN_VARIANCE] = 0.0
    return np.nan_to_num(score)


def discrete_score_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Test accuracy of a linear SVM per (code dim, factor), shape (E, K)."""
    # Deferred import: see the package docstring.
    from sklearn.svm import LinearSVC

    score = np.zeros((codes_train.shape[1], factors_train.shape[1]))
    with quiet_convergence():
        for i in range(codes_train.shape[1]):
            for j in range(factors_train.shape[1]):
                classifier = LinearSVC(
                    C=0.01, class_weight="balanced", random_state=sklearn_seed(rng)
                )
                classifier.fit(codes_train[:, i : i + 1], factors_train[:, j])
                predicted = classifier.predict(codes_test[:, i : i + 1])
                score[i, j] = np.mean(predicted == factors_test[:, j])
    return score


def top_two_gap(score: np.ndarray) -> float:
    """Mean over factors (columns) of the best minus the second best code score."""
    ranked = np.sort(score, axis=0)
    second = ranked[-2] if ranked.shape[0] > 1 else np.zeros(ranked.shape[1])
    return float(np.mean(ranked[-1] - second))


@metric_docstring
def compute_sap(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    random_state: Any = 0,
    n_train: int = DEFAULTS["n_train"],
    n_test: int = DEFAULTS["n_test"],
    continuous_factors: bool = DEFAULTS["continuous_factors"],
) -> dict[str, float]:
    """SAP score.

    Parameters
    ----------
    {common parameters}
    n_train, n_test : int
        Observations the SVMs are fit on and tested on (the test set is drawn, as in
        disentanglement_lib, even when ``continuous_factors`` does not use it).
    continuous_factors : bool
        Score by squared correlation instead of SVM accuracy.

    Returns
    -------
    dict
        ``SAP_score``. Factors with a single value in the training sample are left out.
    """
    rng = check_random_state(random_state)
    codes_train, factors_train, codes_test, factors_test = sample_train_test(
        representation_function, dataset, n_train, n_test, rng
    )
    if continuous_factors:
        score = continuous_score_matrix(codes_train, factors_train.astype(np.float64))
    else:
        score = discrete_score_matrix(codes_train, factors_train, codes_test, factors_test, rng)
    return {"SAP_score": top_two_gap(score)}

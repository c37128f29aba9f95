"""Disentanglement, Completeness and Informativeness (Eastwood & Williams 2018).

disentanglement_lib's version: one gradient boosted tree classifier per factor
(scikit-learn's ``GradientBoostingClassifier()`` defaults) predicts the factor from all
code dims; the absolute feature importances form the importance matrix R (E x K).

- disentanglement: 1 - entropy (base K) of each code's row of R, weighted by the code's
  share of the total importance;
- completeness: 1 - entropy (base E) of each factor's column, weighted likewise;
- informativeness: mean classification accuracy over factors, on the training and on the
  test set.

Gradient boosting fits one tree per class and stage, so factors with many values are slow
(dSprites at the default sizes: minutes). ``n_jobs`` fits factors in parallel with the same
result; ``predictor="random_forest"`` is much faster but gives different numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._seeding import check_random_state
from .._validation import check_choice
from ..datasets.base import GroundTruthDataset
from .utils import (
    RepresentationFunction,
    metric_docstring,
    sample_train_test,
    sklearn_seed,
)

DEFAULTS = {"n_train": 10_000, "n_test": 5_000, "predictor": "gbt", "n_jobs": 1}
SAMPLE_KEYS = ("n_train", "n_test")
PREDICTORS = ("gbt", "random_forest")

_EPS = 1e-11


def _make_predictor(name: str, seed: int):
    # Deferred import: see the package docstring.
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    if name == "gbt":
        return GradientBoostingClassifier(random_state=seed)
    return RandomForestClassifier(n_estimators=100, random_state=seed)


def _fit_factor(
    name: str,
    seed: int,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
) -> tuple[np.ndarray, float, float]:
    model = _make_predictor(name, seed).fit(x_train, y_train)
    return (
        np.abs(model.feature_importances_),
        float(np.mean(model.predict(x_train) == y_train)),
        float(np.mean(model.predict(x_test) == y_test)),
    )


def _one_minus_entropy(weights: np.ndarray, base: int) -> np.ndarray:
    """1 - entropy (given base) of each column of non-negative weights, normalised."""
    if base < 2:
        # A single outcome: the mass cannot be spread, so it is perfectly concentrated.
        return np.ones(weights.shape[1])
    p = weights + _EPS
    p = p / p.sum(axis=0, keepdims=True)
    return 1.0 - (-(p * np.log(p)).sum(axis=0) / np.log(base))


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean over codes of 1 - entropy over factors; R is (E, K)."""
    per_code = _one_minus_entropy(importance.T, importance.shape[1])
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - entropy over codes; R is (E, K)."""
    per_factor = _one_minus_entropy(importance, importance.shape[0])
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def importance_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    predictor: str = "gbt",
    random_state: Any = 0,
    n_jobs: int | None = 1,
) -> tuple[np.ndarray, float, float]:
    """Fit one classifier per factor.

    Parameters
    ----------
    codes_train : ndarray of shape (n_train, E)
    factors_train : ndarray of shape (n_train, K)
    codes_test : ndarray of shape (n_test, E)
    factors_test : ndarray of shape (n_test, K)
    predictor : {"gbt", "random_forest"}
    random_state : int, Generator or None
    n_jobs : int or None
        Factors fitted in parallel (joblib); the result does not depend on it.

    Returns
    -------
    importance : ndarray of shape (E, K)
    train_accuracy, test_accuracy : float
        Mean over factors.
    """
    check_choice("DCI predictor", predictor, PREDICTORS)
    # Deferred import: see the package docstring.
    from joblib import Parallel, delayed

    rng = check_random_state(random_state)
    seeds = [sklearn_seed(rng) for _ in range(factors_train.shape[1])]
    fits = Parallel(n_jobs=n_jobs)(
        delayed(_fit_factor)(
            predictor, seeds[j], codes_train, factors_train[:, j], codes_test, factors_test[:, j]
        )
        for j in range(factors_train.shape[1])
    )
    importance = np.stack([fit[0] for fit in fits], axis=1)
    return importance, float(np.mean([f[1] for f in fits])), float(np.mean([f[2] for f in fits]))


@metric_docstring
def compute_dci(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    random_state: Any = 0,
    n_train: int = DEFAULTS["n_train"],
    n_test: int = DEFAULTS["n_test"],
    predictor: str = DEFAULTS["predictor"],
    n_jobs: int | None = DEFAULTS["n_jobs"],
) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness.

    Parameters
    ----------
    {common parameters}
    n_train, n_test : int
        Observations the classifiers are fit on and tested on.
    predictor : {"gbt", "random_forest"}
        "gbt": disentanglement_lib's gradient boosted trees (slow on factors with many
        values); "random_forest": 100 trees, much faster, not comparable numbers.
    n_jobs : int or None
        Factors fitted in parallel (joblib); the result does not depend on it.

    Returns
    -------
    dict
        ``disentanglement``, ``completeness``, ``informativeness_train``,
        ``informativeness_test`` (accuracies). Factors with a single value in the
        training sample are left out.
    """
    check_choice("DCI predictor", predictor, PREDICTORS)
    rng = check_random_state(random_state)
    codes_train, factors_train, codes_test, factors_test = sample_train_test(
        representation_function, dataset, n_train, n_test, rng
    )
    importance, train_accuracy, test_accuracy = importance_matrix(
        codes_train, factors_train, codes_test, factors_test, predictor, rng, n_jobs
    )
    return {
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
        "informativeness_train": train_accuracy,
        "informativeness_test": test_accuracy,
    }

"""The BetaVAE metric (Higgins et al. 2017), disentanglement_lib's scikit-learn version.

A training point is made from ``batch_size`` pairs of observations that share the value of
one factor k (drawn uniformly) and differ everywhere else: its features are the mean
absolute difference of the two codes of each pair, its label is k. A logistic regression
(scikit-learn defaults) predicts k; the score is its accuracy on fresh points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._seeding import check_random_state
from ..datasets.base import GroundTruthDataset
from ..errors import ParameterError
from .utils import (
    CHUNK_OBSERVATIONS,
    RepresentationFunction,
    check_count,
    encode,
    metric_docstring,
    quiet_convergence,
    sklearn_seed,
)

DEFAULTS = {"batch_size": 64, "n_train": 10_000, "n_eval": 5_000}
SAMPLE_KEYS = ("n_train", "n_eval")


def pair_features(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    n_points: int,
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw BetaVAE points: features (n_points, E) float64 and labels (n_points,) int64."""
    labels = rng.integers(0, dataset.n_factors, size=n_points, dtype=np.int64)
    points_per_chunk = max(1, CHUNK_OBSERVATIONS // (2 * batch_size))
    features = []
    for first in range(0, n_points, points_per_chunk):
        chunk = labels[first : first + points_per_chunk]
        n = len(chunk) * batch_size
        left = dataset.sample_factors(n, rng)
        right = dataset.sample_factors(n, rng)
        shared = np.repeat(chunk, batch_size)
        right[np.arange(n), shared] = left[np.arange(n), shared]
        observations = dataset.sample_observations_from_factors(np.concatenate([left, right]), rng)
        codes = encode(representation_function, observations)
        diff = np.abs(codes[:n] - codes[n:]).reshape(len(chunk), batch_size, -1)
        features.append(diff.mean(axis=1))
    return np.concatenate(features, axis=0), labels


@metric_docstring
def compute_beta_vae(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    random_state: Any = 0,
    batch_size: int = DEFAULTS["batch_size"],
    n_train: int = DEFAULTS["n_train"],
    n_eval: int = DEFAULTS["n_eval"],
) -> dict[str, float]:
    """BetaVAE disentanglement score.

    Parameters
    ----------
    {common parameters}
    batch_size : int
        Pairs averaged into one point.
    n_train, n_eval : int
        Points to fit the classifier on and to score it on.

    Returns
    -------
    dict
        ``train_accuracy``, ``eval_accuracy`` (the score).
    """
    batch_size = check_count("batch_size", batch_size)
    n_train = check_count("n_train", n_train)
    n_eval = check_count("n_eval", n_eval)
    rng = check_random_state(random_state)
    # Deferred import: see the package docstring.
    from sklearn.linear_model import LogisticRegression

    x_train, y_train = pair_features(representation_function, dataset, n_train, batch_size, rng)
    if np.unique(y_train).size < 2:
        raise ParameterError(
            f"n_train={n_train} points all hold the same factor fixed; BetaVAE needs "
            "points of at least 2 factors"
        )
    model = LogisticRegression(random_state=sklearn_seed(rng))
    with quiet_convergence():
        model.fit(x_train, y_train)
    x_eval, y_eval = pair_features(representation_function, dataset, n_eval, batch_size, rng)
    return {
        "train_accuracy": float(model.score(x_train, y_train)),
        "eval_accuracy": float(model.score(x_eval, y_eval)),
    }

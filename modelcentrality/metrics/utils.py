"""Helpers shared by the supervised metrics: sampling codes, discretising, mutual information.

Semantics follow disentanglement_lib (``evaluation/metrics/utils.py``): codes are
discretised per dim into equal-width histogram bins, mutual information is the plug-in
estimate in nats (as ``sklearn.metrics.mutual_info_score``), and train/test sets are drawn
one after the other from the same random stream.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._seeding import check_random_state
from .._validation import check_int
from ..datasets.base import GroundTruthDataset
from ..errors import ParameterError

RepresentationFunction = Callable[[np.ndarray], np.ndarray]

#: Observations rendered and encoded per call of the representation function. Fixed, so
#: results never depend on it.
CHUNK_OBSERVATIONS = 4096


#: The parameters every ``compute_<metric>`` function takes first, as its docstring
#: lists them (see :func:`metric_docstring`).
COMMON_PARAMETERS = """representation_function : callable
        Observations (B, *observation_shape) float32 -> codes (B, E).
    dataset : GroundTruthDataset
    random_state : int, Generator or None"""


def metric_docstring(function: Callable) -> Callable:
    """Write :data:`COMMON_PARAMETERS` into ``function``'s docstring, at its
    ``{common parameters}`` line (one text for every metric)."""
    if function.__doc__:  # None under ``python -OO``
        function.__doc__ = function.__doc__.replace("{common parameters}", COMMON_PARAMETERS)
    return function


def check_count(name: str, value: int, minimum: int = 1) -> int:
    """Validate a sample count; return it as an int."""
    return check_int(name, value, minimum=minimum)


def encode(representation_function: RepresentationFunction, observations: np.ndarray) -> np.ndarray:
    """Call the representation function and check it returns one code row per input.

    Returns
    -------
    ndarray of shape (B, E), float64
    """
    codes = np.asarray(representation_function(observations))
    if codes.ndim != 2 or codes.shape[0] != observations.shape[0]:
        raise ParameterError(
            f"representation function must return shape ({observations.shape[0]}, E) for "
            f"{observations.shape[0]} observations, got {codes.shape}"
        )
    if not np.isfinite(codes).all():
        raise ParameterError("representation function returned NaN or inf")
    return codes.astype(np.float64)


def encode_factors(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    factors: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render the observations of ``factors`` and encode them, chunk by chunk.

    Parameters
    ----------
    factors : ndarray of shape (n, K)
        Factor indices.

    Returns
    -------
    ndarray of shape (n, E), float64
    """
    chunks = []
    for start in range(0, len(factors), CHUNK_OBSERVATIONS):
        observations = dataset.sample_observations_from_factors(
            factors[start : start + CHUNK_OBSERVATIONS], rng
        )
        chunks.append(encode(representation_function, observations))
    return np.concatenate(chunks, axis=0)


def sample_codes(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    n: int,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` factor vectors uniformly, render and encode them.

    Returns
    -------
    codes : ndarray of shape (n, E), float64
    factors : ndarray of shape (n, K), int64
    """
    n = check_count("n", n)
    rng = check_random_state(random_state)
    factors = dataset.sample_factors(n, rng)
    return encode_factors(representation_function, dataset, factors, rng), factors


def sample_train_test(
    representation_function: RepresentationFunction,
    dataset: GroundTruthDataset,
    n_train: int,
    n_test: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw a training set, then a test set, keeping the factors that vary in training.

    A factor with a single value in the training sample carries no information and no
    classifier can be fit to it, so the metrics that fit per factor leave it out.

    Returns
    -------
    codes_train : ndarray of shape (n_train, E), float64
    factors_train : ndarray of shape (n_train, K'), int64
        The K' <= K factors that vary in the training sample.
    codes_test : ndarray of shape (n_test, E), float64
    factors_test : ndarray of shape (n_test, K'), int64

    Raises
    ------
    ParameterError
        A bad count, or no factor varies in the training sample.
    """
    n_train = check_count("n_train", n_train)
    n_test = check_count("n_test", n_test)
    codes_train, factors_train = sample_codes(representation_function, dataset, n_train, rng)
    codes_test, factors_test = sample_codes(representation_function, dataset, n_test, rng)
    keep = varying_factors(factors_train)
    if not keep.any():
        raise ParameterError(f"no factor varies in the {n_train} training observations")
    return codes_train, factors_train[:, keep], codes_test, factors_test[:, keep]


def histogram_discretize(codes: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Bin each code dim into ``n_bins`` equal-width bins over its own range.

    Parameters
    ----------
    codes : ndarray of shape (n, E)

    Returns
    -------
    ndarray of shape (n, E), int64, values in [0, n_bins)
        The bin of each value; the maximum goes to the last bin. A constant dim falls in
        one bin.
    """
    n_bins = check_count("n_bins", n_bins)
    codes = np.asarray(codes, dtype=np.float64)
    binned = np.empty(codes.shape, dtype=np.int64)
    for d in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, d], bins=n_bins)
        # Inner edges only: values below the first inner edge are bin 0, the maximum is
        # in the last bin (np.histogram's closed last bin).
        binned[:, d] = np.searchsorted(edges[1:-1], codes[:, d], side="right")
    return binned


def _entropy_of_counts(counts: np.ndarray, total: int) -> np.ndarray:
    p = counts / total
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=-1)


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (nats) of every discrete code dim with every factor.

    Parameters
    ----------
    codes : ndarray of shape (n, E), non-negative ints
    factors : ndarray of shape (n, K), non-negative ints

    Returns
    -------
    ndarray of shape (E, K)
        ``mi[i, j] = H(code_i) + H(factor_j) - H(code_i, factor_j)``, clipped at 0.
    """
    codes = np.asarray(codes, dtype=np.int64)
    factors = np.asarray(factors, dtype=np.int64)
    if codes.shape[0] != factors.shape[0]:
        raise ParameterError(f"{codes.shape[0]} code rows but {factors.shape[0]} factor rows")
    n = codes.shape[0]
    code_entropy = np.array([_entropy_of_counts(np.bincount(c), n) for c in codes.T])
    factor_entropy = discrete_entropy(factors)
    mi = np.empty((codes.shape[1], factors.shape[1]))
    for j, y in enumerate(factors.T):
        size = int(y.max()) + 1
        for i, c in enumerate(codes.T):
            joint = _entropy_of_counts(np.bincount(c * size + y), n)
            mi[i, j] = code_entropy[i] + factor_entropy[j] - joint
    return np.maximum(mi, 0.0)


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy (nats) of every column of a non-negative int array (n, K); shape (K,)."""
    factors = np.asarray(factors, dtype=np.int64)
    n = factors.shape[0]
    return np.array([_entropy_of_counts(np.bincount(y), n) for y in factors.T])


def varying_factors(factors: np.ndarray) -> np.ndarray:
    """Mask of factors that take more than one value in a sample, shape (K,).

    A factor with a single value carries no information and no classifier can be fit to
    it, so the metrics leave such factors out.
    """
    factors = np.asarray(factors)
    return (factors != factors[:1]).any(axis=0)


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale both sets by the training mean and std (constant dims: std 1)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def sklearn_seed(rng: np.random.Generator) -> int:
    """An int seed for a scikit-learn estimator, drawn from the metric's generator."""
    return int(rng.integers(2**31 - 1))


@contextmanager
def quiet_convergence() -> Iterator[None]:
    """Silence scikit-learn convergence warnings.

    disentanglement_lib fits its classifiers with scikit-learn's default iteration limits;
    the metrics keep those limits for comparable numbers, so a warning per fit would only
    be noise.
    """
    # Deferred import: see the package docstring.
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        yield


def scaled_count(value: int, scale: float, minimum: int = 1) -> int:
    """A sample count multiplied by ``scale``, rounded, at least ``minimum`` (0 stays 0)."""
    if value == 0:
        return 0
    return max(minimum, int(round(value * scale)))

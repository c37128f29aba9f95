"""Bootstrap uncertainty of ModelCentrality scores from the pairs' vote tables.

The randomness of a centrality score comes from the finite number of votes per pair.
Each pair's votes are resampled within each factor (a stratified bootstrap: the number
of votes per factor is fixed by the protocol's round-robin or kept as drawn), the
majority-vote classifier is refit on the resampled training votes, and the pair is
rescored. Repeating this for every pair gives bootstrap replicates of the whole cross
matrix, hence of every centrality score and of which model comes out on top.

A refit majority classifier overfits its resample a little more than the original
fit, so raw replicates sit above the estimate (most for pairs whose votes split between
dims). Replicates are therefore shifted by the bootstrap estimate of that bias before
intervals and top-model probabilities are read off them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._seeding import check_random_state
from .._validation import check_fraction, check_int
from ._centrality import PairResults, as_pair_dict, centrality, cross_matrix


def _resample_table(table: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified bootstrap of a vote table (E, K) -> replicates (n_boot, E, K)."""
    replicates = np.zeros((n_boot, *table.shape), dtype=np.int64)
    for k in range(table.shape[1]):
        column = table[:, k]
        total = int(column.sum())
        if total:
            replicates[:, :, k] = rng.multinomial(total, column / total, size=n_boot)
    return replicates


def _replicate_scores(train: np.ndarray, evaluation: np.ndarray) -> np.ndarray:
    """Majority-vote accuracy per replicate; train/eval are (B, E, K) -> (B,)."""
    classifier = train.argmax(axis=2)
    correct = np.take_along_axis(evaluation, classifier[:, :, None], axis=2)[:, :, 0].sum(axis=1)
    total = evaluation.sum(axis=(1, 2))
    return np.divide(correct, total, out=np.zeros(len(total)), where=total > 0)


def bootstrap_cross(
    results: PairResults, n_boot: int = 200, random_state: Any = 0, n: int | None = None
) -> np.ndarray:
    """Bootstrap replicates of the cross matrix.

    Parameters
    ----------
    results : mapping of (i, j) to VoteResult, or N x N nested sequence
        ``results[i, j]``: encoder j on source i. Missing pairs stay NaN.
    n_boot : int
    random_state : int, Generator or None
    n : int, optional
        N (default: from the pairs).

    Returns
    -------
    ndarray of shape (n_boot, N, N)
    """
    rng = check_random_state(random_state)
    pairs = as_pair_dict(results)
    if n is None:
        n = 1 + max((max(key) for key in pairs), default=-1)
    cross = np.full((n_boot, n, n), np.nan)
    # Row-major order, so that a full matrix draws exactly as it always has.
    for i, j in sorted(pairs):
        result = pairs[i, j]
        train = _resample_table(result.train_table, n_boot, rng)
        if result.eval_table is None:
            evaluation = train
        else:
            evaluation = _resample_table(result.eval_table, n_boot, rng)
        cross[:, i, j] = _replicate_scores(train, evaluation)
    return cross


@dataclass(frozen=True)
class CentralityUncertainty:
    """Bootstrap summary: the replicates, and what is read from them.

    Attributes
    ----------
    replicates : ndarray of shape (n_boot, N)
        The bias-corrected centrality scores of every bootstrap replicate, e.g. to
        measure how stable the whole ranking is (Kendall's tau to each replicate).
    confidence : float
        Coverage of ``scores_ci``.
    """

    replicates: np.ndarray
    confidence: float

    @property
    def n_boot(self) -> int:
        """Number of bootstrap replicates."""
        return len(self.replicates)

    @property
    def scores_ci(self) -> np.ndarray:
        """Percentile interval of each centrality score, shape (N, 2)."""
        tail = (1 - self.confidence) / 2 * 100
        return np.percentile(self.replicates, [tail, 100 - tail], axis=0).T

    @property
    def p_top(self) -> np.ndarray:
        """Fraction of replicates in which each model is the most central, shape (N,)."""
        # A model with no known similarity (NaN) is never on top.
        winners = np.nan_to_num(self.replicates, nan=-np.inf).argmax(axis=1)
        return np.bincount(winners, minlength=self.replicates.shape[1]) / self.n_boot

    @property
    def std(self) -> np.ndarray:
        """Bootstrap standard error of each centrality score, shape (N,)."""
        return self.replicates.std(axis=0, ddof=1)


def centrality_uncertainty(
    results: PairResults,
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: Any = 0,
    n: int | None = None,
) -> CentralityUncertainty:
    """Bootstrap confidence intervals and top-model probabilities; see module docs.

    Parameters
    ----------
    results : mapping of (i, j) to VoteResult, or N x N nested sequence
        Finished pairs; with missing pairs, each centrality averages the known
        similarities (see :func:`~modelcentrality.engine.centrality`).
    n_boot : int
        Bootstrap replicates (>= 2).
    confidence : float
        Coverage of the intervals, in (0, 1).
    random_state : int, Generator or None
    n : int, optional
        N (default: from the pairs).
    """
    check_fraction("confidence", confidence)
    check_int("n_boot", n_boot, minimum=2)
    pairs = as_pair_dict(results)
    if n is None:
        n = 1 + max((max(key) for key in pairs), default=-1)
    evaluated = None
    if len(pairs) < n * n:
        evaluated = ~np.isnan(cross_matrix(pairs, n))
    replicates = centrality(bootstrap_cross(pairs, n_boot, random_state, n), evaluated)
    estimate = centrality(cross_matrix(pairs, n), evaluated)
    return CentralityUncertainty(replicates - (replicates.mean(axis=0) - estimate), confidence)

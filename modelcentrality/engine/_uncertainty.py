"""Bootstrap uncertainty of ModelCentrality scores, over every noise source of a cell.

The bootstrap sees cells, not how they were computed: each source's cells (every
encoder sees the same draws of the source, so they move together) are resampled
together by their type's :meth:`~modelcentrality.engine.ResamplableCell.resample_source`,
which covers the noise of the cell's own draws; the FactorVAE cell's is the stratified
vote bootstrap of :mod:`._vote_bootstrap`. Cells that cannot be resampled are refused
(a ParameterError), never given intervals of zero width.

A refit majority classifier overfits its resample a little more than the original
fit, so raw replicates sit above the estimate (most for cells whose votes split between
dims). Replicates are shifted by the bootstrap estimate of that bias before intervals and
top-model probabilities are read off them.

The interval (``scores_ci``) is for the centrality at unlimited votes, which the paper's
score overestimates at finite votes: the classifier is fit and scored on the same votes,
and a dim whose votes split between factors counts its largest share, larger by chance
(the excess shrinks only like 1/sqrt(M) for an even split). The held-out score errs
the other way: each half of the votes (every other vote of each factor) is scored by
the classifier fit on the other half, and a classifier fit on fewer votes is on
average no better on new votes than the majority at unlimited votes. Each replicate
also computes the held-out score, and the interval runs from the held-out replicates'
lower percentile to the paper replicates' upper one. With eval votes
(disentanglement_lib) the two are the same score and the interval is the bootstrap's.
A cell type without such a bias returns its value's replicates as the held-out ones,
and the interval is the percentile interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._seeding import check_random_state
from .._validation import check_fraction, check_int
from ..errors import ParameterError
from ._cells import can_resample
from ._centrality import PairResults, as_pair_dict, centrality, cross_matrix


def bootstrap_cross(
    results: PairResults,
    n_boot: int = 200,
    random_state: Any = 0,
    n: int | None = None,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Bootstrap replicates of the cross matrix (see module docs).

    Parameters
    ----------
    results : mapping of (i, j) to ResamplableCell, or N x N nested sequence
        ``results[i, j]``: encoder j on source i. Missing pairs stay NaN. Cells of one
        source share their vote and scale-block weights, so they must come from the
        source's one draw (the same seed), as every search's cells do.
    n_boot : int
    random_state : int, Generator or None
    n : int, optional
        N (default: from the pairs).
    names : sequence of str, optional
        Model names, with an int ``random_state``: each source's weights are then drawn
        from generators keyed by the seed, its name and the vote block, so they do not
        depend on the zoo's order or size, nor on how many votes the cells have.

    Returns
    -------
    ndarray of shape (n_boot, N, N)
        Replicates of the paper's score of every cell.
    """
    return _bootstrap(as_pair_dict(results), n_boot, random_state, n, names)[0]


def _bootstrap(
    pairs: dict, n_boot: int, random_state: Any, n: int | None, names: Sequence[str] | None
) -> np.ndarray:
    """Replicates of every cell's value and held-out value, (2, n_boot, N, N)."""
    keyed = names is not None and isinstance(random_state, (int, np.integer))
    rng = check_random_state(random_state)
    if n is None:
        n = 1 + max((max(key) for key in pairs), default=-1)
    cross = np.full((2, n_boot, n, n), np.nan)
    # Sources in order: an unkeyed bootstrap shares one generator between them.
    by_source: dict[int, list[int]] = {}
    for i, j in sorted(pairs):
        by_source.setdefault(i, []).append(j)
    for source, encoders in by_source.items():
        cells = [pairs[source, j] for j in encoders]
        kinds = {type(cell) for cell in cells}
        kind = kinds.pop()
        if kinds or not can_resample(kind):
            what = "mixed cell types" if kinds else f"{kind.__name__} cells"
            raise ParameterError(
                f"{what} cannot be resampled: the bootstrap needs cells of one "
                f"ResamplableCell type per source"
            )
        keys = (int(random_state), "bootstrap", names[source]) if keyed else None
        cross[:, :, source, encoders] = kind.resample_source(cells, n_boot, rng, keys)
    return cross


@dataclass(frozen=True)
class CentralityUncertainty:
    """Bootstrap summary: the replicates, and what is read from them.

    Attributes
    ----------
    replicates : ndarray of shape (n_boot, N)
        The centrality scores of every bootstrap replicate (shifted by the bootstrap
        bias, so they centre on the estimate), e.g. to
        measure how stable the whole ranking is (Kendall's tau to each replicate).
    confidence : float
        Coverage of ``scores_ci``.
    held_out : ndarray of shape (n_boot, N) or None
        Replicates of the held-out centrality (each half of a cell's votes scored by
        the classifier fit on the other half): the lower end of ``scores_ci``. None:
        the interval is the percentile interval of ``replicates``.
    """

    replicates: np.ndarray
    confidence: float
    held_out: np.ndarray | None = None

    @property
    def n_boot(self) -> int:
        """Number of bootstrap replicates."""
        return len(self.replicates)

    @property
    def sampling_ci(self) -> np.ndarray:
        """Percentile interval of ``replicates``: the draws' noise only, shape (N, 2)."""
        tail = (1 - self.confidence) / 2 * 100
        return np.percentile(self.replicates, [tail, 100 - tail], axis=0).T

    @property
    def scores_ci(self) -> np.ndarray:
        """Interval of each model's centrality at unlimited votes, shape (N, 2).

        The paper's score is biased up at finite votes (the classifier is fit and
        scored on the same votes) and the held-out score biased down (votes are scored
        by a classifier fit on half of them), so the interval runs from the held-out
        replicates' lower percentile to the paper replicates' upper one.
        """
        interval = self.sampling_ci
        if self.held_out is not None:
            tail = (1 - self.confidence) / 2 * 100
            low = np.percentile(self.held_out, tail, axis=0)
            interval[:, 0] = np.minimum(interval[:, 0], low)
        return interval

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
    names: Sequence[str] | None = None,
) -> CentralityUncertainty:
    """Bootstrap confidence intervals and top-model probabilities; see module docs.

    Parameters
    ----------
    results : mapping of (i, j) to ResamplableCell, or N x N nested sequence
        Finished pairs; with missing pairs, each centrality averages the known
        similarities (see :func:`~modelcentrality.engine.centrality`).
    n_boot : int
        Bootstrap replicates (>= 2).
    confidence : float
        Coverage of the intervals, in (0, 1).
    random_state : int, Generator or None
    n : int, optional
        N (default: from the pairs).
    names : sequence of str, optional
        Model names: key each source's draws by its name (see :func:`bootstrap_cross`).
    """
    check_fraction("confidence", confidence)
    check_int("n_boot", n_boot, minimum=2)
    pairs = as_pair_dict(results)
    if n is None:
        n = 1 + max((max(key) for key in pairs), default=-1)
    evaluated = None
    if len(pairs) < n * n:
        evaluated = ~np.isnan(cross_matrix(pairs, n))
    paper, held_out = _bootstrap(pairs, n_boot, random_state, n, names)
    replicates = centrality(paper, evaluated)
    estimate = centrality(cross_matrix(pairs, n), evaluated)
    replicates -= replicates.mean(axis=0) - estimate
    return CentralityUncertainty(replicates, confidence, centrality(held_out, evaluated))


"""Bootstrap uncertainty of ModelCentrality scores, over every noise source of a cell.

A cross cell is computed from random draws of its source model: the vote groups (each
vote's fixed factor value and the other latents), the scale set (S observations whose
per-dim std divides every vote's group variances, so one draw is shared by all votes
of the cell) and, through them, the majority-vote classifier fit on the votes. Every
encoder of a source sees the same draws, so the cells of one source move together.

When a cell carries its :class:`~modelcentrality.engine.VoteData`, a replicate redoes
the cell from those statistics without encoding anything again: votes get Poisson(1)
weights (rescaled within each factor, so each factor keeps its number of votes, as the
protocol fixes them), the scale set's blocks are resampled with replacement and the
scale recomputed, every vote's winning dim is taken again under that scale, the
classifier is refit on the weighted votes and the cell rescored. The weights of a
source's votes and scale blocks are drawn once per replicate and shared by all its
cells; a vote's weight does not depend on how many votes a cell has, so a cell with m
votes uses the weights of the first m. A cell that carries only its vote tables is
resampled from them alone (stratified by factor), as before.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._seeding import check_random_state, keyed_rng
from .._validation import check_fraction, check_int
from ._centrality import PairResults, as_pair_dict, centrality, cross_matrix
from ._scoring import VOTE_BLOCK
from ._votes import VoteData

#: Upper bound on replicates x votes x dims held at once while rescoring a cell.
_CHUNK_ELEMENTS = 4_000_000


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


def _cross_fit_scores(half_a: np.ndarray, half_b: np.ndarray) -> np.ndarray:
    """Held-out accuracy per replicate: each half's votes scored by the classifier fit
    on the other half; halves are (B, E, K) -> (B,)."""

    def correct(fit: np.ndarray, scored: np.ndarray) -> np.ndarray:
        chosen = fit.argmax(axis=2)[:, :, None]
        return np.take_along_axis(scored, chosen, axis=2)[:, :, 0].sum(axis=1)

    total = half_a.sum(axis=(1, 2)) + half_b.sum(axis=(1, 2))
    hits = correct(half_a, half_b) + correct(half_b, half_a)
    return np.divide(hits, total, out=np.zeros(len(total)), where=total > 0)


def _both_scores(
    halves: tuple[np.ndarray, np.ndarray], evaluation: np.ndarray | None
) -> np.ndarray:
    """Paper and held-out score per replicate, (B, 2), from the two halves of the
    training votes' tables; with eval votes both are the paper's (the classifier is not
    scored on its own votes)."""
    train = halves[0] + halves[1]
    if evaluation is None:
        return np.stack([_replicate_scores(train, train), _cross_fit_scores(*halves)], axis=1)
    score = _replicate_scores(train, evaluation)
    return np.stack([score, score], axis=1)


def _halves(factors: np.ndarray) -> np.ndarray:
    """Which votes form the first half: every other vote of each factor, (V,) bool."""
    rank = np.zeros(len(factors), dtype=np.int64)
    for k in np.unique(factors):
        rank[factors == k] = np.arange(np.count_nonzero(factors == k))
    return rank % 2 == 0


def _scale_variances(data: VoteData, weights: np.ndarray) -> np.ndarray:
    """Per-dim scale variance (ddof 1) of resampled scale blocks.

    weights : (B, n_blocks) block multiplicities -> (B, E).
    """
    counts = data.scale_counts.astype(np.float64)
    # Centred on the pooled mean first, so near-constant dims keep their precision.
    pooled = counts @ data.scale_means / counts.sum()
    centred = data.scale_means - pooled
    total = weights @ counts
    mean = weights @ (counts[:, None] * centred) / total[:, None]
    m2 = weights @ data.scale_m2 + weights @ (counts[:, None] * centred**2)
    m2 -= total[:, None] * mean**2
    return np.maximum(m2, 0.0) / (total[:, None] - 1)


def _replicate_dims(
    group_var: np.ndarray, scale_var: np.ndarray, prune_std: float | None
) -> np.ndarray:
    """Winning dim of every vote under each replicate's scale, (B, V); -1: dropped."""
    active = scale_var > 0
    if prune_std is not None:
        active &= np.sqrt(scale_var) >= prune_std
    ratio = group_var[None] / np.where(active, scale_var, 1.0)[:, None, :]
    ratio = np.where(active[:, None, :], ratio, np.inf)
    dims = ratio.argmin(axis=2)
    # As winning_dims: no eligible dim drops the vote with pruning, else dim 0 wins.
    dims[~active.any(axis=1)] = -1 if prune_std is not None else 0
    return dims


def _weighted_tables(
    dims: np.ndarray, factors: np.ndarray, weights: np.ndarray, n_dims: int, n_factors: int
) -> np.ndarray:
    """Vote tables (B, E, K) of weighted votes with winning dims (B, V)."""
    n_boot = len(dims)
    keep = dims >= 0
    offsets = np.arange(n_boot)[:, None] * (n_dims * n_factors)
    flat = offsets + dims * n_factors + factors[None, :]
    tables = np.bincount(
        flat[keep], weights=weights[keep], minlength=n_boot * n_dims * n_factors
    )
    return tables.reshape(n_boot, n_dims, n_factors)


def _stratified(weights: np.ndarray, factors: np.ndarray, n_factors: int) -> np.ndarray:
    """Vote weights (B, V) rescaled so each factor's weights sum to its vote count."""
    counts = np.bincount(factors, minlength=n_factors).astype(np.float64)
    sums = np.zeros((len(weights), n_factors))
    for k in np.flatnonzero(counts):
        sums[:, k] = weights[:, factors == k].sum(axis=1)
    scale = np.divide(counts, sums, out=np.zeros_like(sums), where=sums > 0)
    return weights * scale[:, factors]


def _cell_replicates(
    data: VoteData,
    n_factors: int,
    vote_weights: tuple[np.ndarray, np.ndarray],
    block_weights: np.ndarray,
) -> np.ndarray:
    """Bootstrap replicates (B, 2) of one cell (paper and held-out score) from its
    statistics and its source's weights."""
    n_train = data.n_train
    n_eval = len(data.factors) - n_train
    train_w = vote_weights[0][:, :n_train].astype(np.float64)
    eval_w = vote_weights[1][:, :n_eval].astype(np.float64)
    n_boot = len(block_weights)
    n_dims = data.group_var.shape[1]
    scores = np.empty((n_boot, 2))
    width = max(1, _CHUNK_ELEMENTS // max(1, data.group_var.size))
    factors, eval_factors = data.factors[:n_train], data.factors[n_train:]
    first_half = _halves(factors)
    for first in range(0, n_boot, width):
        rows = slice(first, min(n_boot, first + width))
        scale_var = _scale_variances(data, block_weights[rows, : len(data.scale_counts)])
        dims = _replicate_dims(data.group_var, scale_var, data.prune_std)
        weights = _stratified(train_w[rows], factors, n_factors)
        halves = tuple(
            _weighted_tables(dims[:, :n_train], factors, weights * part, n_dims, n_factors)
            for part in (first_half, ~first_half)
        )
        evaluation = None
        if n_eval:
            evaluation = _weighted_tables(
                dims[:, n_train:], eval_factors,
                _stratified(eval_w[rows], eval_factors, n_factors), n_dims, n_factors,
            )
        scores[rows] = _both_scores(halves, evaluation)
    return scores


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
    results : mapping of (i, j) to VoteResult, or N x N nested sequence
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


def _source_weights(
    cells: list[VoteData], n_boot: int, rng: np.random.Generator, keys: tuple | None
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Vote weights (train, eval: (n_boot, votes)) and scale-block weights of a source."""
    n_train = max(data.n_train for data in cells)
    n_eval = max(len(data.factors) - data.n_train for data in cells)
    n_blocks = max(len(data.scale_counts) for data in cells)

    def votes(part: str, count: int) -> np.ndarray:
        if keys is None:
            return rng.poisson(1.0, size=(n_boot, count))
        blocks = [
            keyed_rng(*keys, part, block).poisson(1.0, size=(n_boot, VOTE_BLOCK))
            for block in range(-(-count // VOTE_BLOCK))
        ]
        return np.concatenate(blocks, axis=1)[:, :count] if blocks else np.zeros((n_boot, 0))

    vote_weights = votes("train", n_train), votes("eval", n_eval)
    block_rng = rng if keys is None else keyed_rng(*keys, "scale")
    block_weights = block_rng.multinomial(n_blocks, np.full(n_blocks, 1 / n_blocks), n_boot)
    return vote_weights, block_weights.astype(np.float64)


def _bootstrap(
    pairs: dict, n_boot: int, random_state: Any, n: int | None, names: Sequence[str] | None
) -> np.ndarray:
    """Replicates of every cell's paper score and held-out score, (2, n_boot, N, N)."""
    keyed = names is not None and isinstance(random_state, (int, np.integer))
    rng = check_random_state(random_state)
    if n is None:
        n = 1 + max((max(key) for key in pairs), default=-1)
    cross = np.full((2, n_boot, n, n), np.nan)
    # Sources in order, each drawing its weights once for all of its cells.
    for source in sorted({i for i, _ in pairs}):
        cells = {j: result for (i, j), result in pairs.items() if i == source}
        keys = (int(random_state), "bootstrap", names[source]) if keyed else None
        source_rng = keyed_rng(*keys, "tables") if keyed else rng
        full = [cell.data for cell in cells.values() if cell.data is not None]
        if full:
            vote_weights, block_weights = _source_weights(full, n_boot, rng, keys)
        for j in sorted(cells):
            result = cells[j]
            data = result.data
            if data is not None and len(data.scale_counts) == block_weights.shape[1]:
                n_factors = result.train_table.shape[1]
                cross[:, :, source, j] = _cell_replicates(
                    data, n_factors, vote_weights, block_weights
                ).T
                continue
            train = _resample_table(result.train_table, n_boot, source_rng)
            half = source_rng.binomial(train, 0.5)
            evaluation = None
            if result.eval_table is not None:
                evaluation = _resample_table(result.eval_table, n_boot, source_rng)
            cross[:, :, source, j] = _both_scores((half, train - half), evaluation).T
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


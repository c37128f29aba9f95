"""The FactorVAE cell's bootstrap: every noise source of a vote-table cell.

A cross cell is computed from random draws of its source model: the vote groups (each
vote's fixed factor value and the other latents), the scale set (S observations whose
per-dim std divides every vote's group variances, so one draw is shared by all votes
of the cell) and, through them, the majority-vote classifier fit on the votes. Every
encoder of a source sees the same draws, so the cells of one source move together.

When a cell carries its :class:`VoteData`, a replicate redoes the cell from those
statistics without encoding anything again: votes get Poisson(1) weights (rescaled
within each factor, so each factor keeps its number of votes, as the protocol fixes
them), the scale set's blocks are resampled with replacement and the scale recomputed,
every vote's winning dim is taken again under that scale, the classifier is refit on
the weighted votes and the cell rescored. The weights of a source's votes and scale
blocks are drawn once per replicate and shared by all its cells; a vote's weight does
not depend on how many votes a cell has, so a cell with m votes uses the weights of
the first m. A cell that carries only its vote tables is resampled from them alone
(stratified by factor).

Each replicate also computes the held-out score (each half of the votes, every other
vote of each factor, scored by the classifier fit on the other half), the lower end of
the interval of :func:`~modelcentrality.engine.centrality_uncertainty`; with eval votes
(disentanglement_lib) the two are the same score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._seeding import keyed_rng


@dataclass(frozen=True)
class VoteData:
    """Everything a cell's score is computed from, reduced to small arrays.

    Enough to redo the whole scoring (winning dims, vote tables, classifier fit) on
    resampled votes and a resampled scale set without encoding anything again: the
    bootstrap of this module uses it to cover every noise source of a cell.

    Attributes
    ----------
    group_var : ndarray of shape (n_votes, E), float64
        Within-group variance of every vote (training votes first, then eval votes).
    factors : ndarray of shape (n_votes,), int64
        Factor held fixed in each vote.
    n_train : int
        Training votes (the first ``n_train`` rows).
    scale_counts : ndarray of shape (n_blocks,), int64
        Observations in each consecutive block of the scale set (the last may be short).
    scale_means, scale_m2 : ndarray of shape (n_blocks, E), float64
        Per-dim mean and sum of squared deviations of each block.
    prune_std : float or None
        The protocol's pruning threshold.
    """

    group_var: np.ndarray
    factors: np.ndarray
    n_train: int
    scale_counts: np.ndarray
    scale_means: np.ndarray
    scale_m2: np.ndarray
    prune_std: float | None = None


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


def _source_weights(
    cells: list[VoteData],
    n_boot: int,
    rng: np.random.Generator,
    keys: tuple | None,
    vote_block: int,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Vote weights (train, eval: (n_boot, votes)) and scale-block weights of a source."""
    n_train = max(data.n_train for data in cells)
    n_eval = max(len(data.factors) - data.n_train for data in cells)
    n_blocks = max(len(data.scale_counts) for data in cells)

    def votes(part: str, count: int) -> np.ndarray:
        if keys is None:
            return rng.poisson(1.0, size=(n_boot, count))
        blocks = [
            keyed_rng(*keys, part, block).poisson(1.0, size=(n_boot, vote_block))
            for block in range(-(-count // vote_block))
        ]
        return np.concatenate(blocks, axis=1)[:, :count] if blocks else np.zeros((n_boot, 0))

    vote_weights = votes("train", n_train), votes("eval", n_eval)
    block_rng = rng if keys is None else keyed_rng(*keys, "scale")
    block_weights = block_rng.multinomial(n_blocks, np.full(n_blocks, 1 / n_blocks), n_boot)
    return vote_weights, block_weights.astype(np.float64)


def resample_vote_cells(
    cells: Sequence[Any], n_boot: int, rng: np.random.Generator, keys: tuple | None, vote_block: int
) -> np.ndarray:
    """Replicates (2, n_boot, len(cells)) of the paper and held-out score of every
    :class:`~modelcentrality.engine.VoteResult` of one source.

    See :meth:`~modelcentrality.engine.ResamplableCell.resample_source`; ``vote_block``
    is the size of the vote blocks that keyed weights follow.
    """
    replicates = np.empty((2, n_boot, len(cells)))
    source_rng = keyed_rng(*keys, "tables") if keys is not None else rng
    full = [cell.data for cell in cells if cell.data is not None]
    if full:
        vote_weights, block_weights = _source_weights(full, n_boot, rng, keys, vote_block)
    for column, result in enumerate(cells):
        data = result.data
        if data is not None and len(data.scale_counts) == block_weights.shape[1]:
            n_factors = result.train_table.shape[1]
            replicates[:, :, column] = _cell_replicates(
                data, n_factors, vote_weights, block_weights
            ).T
            continue
        train = _resample_table(result.train_table, n_boot, source_rng)
        half = source_rng.binomial(train, 0.5)
        evaluation = None
        if result.eval_table is not None:
            evaluation = _resample_table(result.eval_table, n_boot, source_rng)
        replicates[:, :, column] = _both_scores((half, train - half), evaluation).T
    return replicates

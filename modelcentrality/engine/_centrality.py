"""ModelCentrality's score: the mean similarity of a model to the others.

``cross[i, j]`` is the value of the cell of encoder j on model i (the FactorVAE score of
the encoder on the model's generated groups, or another similarity's cell), the
similarity is ``d[i, j] = (cross[i, j] + cross[j, i]) / 2`` and the centrality of model i
is ``M_i = mean over j != i of d[i, j]``. This module is the one implementation of that
formula: for a full cross matrix, for a partial one (a search that evaluated only some
pairs; ``d[i, j]`` counts only when both directions were evaluated), and for a stack of
bootstrap replicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from ._cells import Cell

#: Finished pairs: ``{(source, encoder): result}``, or a full N x N nested sequence.
PairResults = Mapping[tuple[int, int], Cell] | Sequence[Sequence[Cell]]


def as_pair_dict(results: PairResults) -> dict[tuple[int, int], Cell]:
    """Pair results as a ``{(i, j): cell}`` dict (nested sequences are read row-wise)."""
    if isinstance(results, Mapping):
        return dict(results)
    return {(i, j): result for i, row in enumerate(results) for j, result in enumerate(row)}


def cross_matrix(results: PairResults, n: int | None = None, field: str = "value") -> np.ndarray:
    """One field of every pair's cell as an N x N matrix, NaN where a pair is missing.

    Parameters
    ----------
    results : mapping of (i, j) to Cell, or N x N nested sequence
    n : int, optional
        N (default: one more than the largest index).
    field : str
        ``"value"`` (the cell's value), or an attribute of the cell type
        (``"revised_score"`` of a FactorVAE cell); NaN for a cell without it.

    Returns
    -------
    ndarray of shape (N, N), float64
    """
    pairs = as_pair_dict(results)
    if n is None:
        n = 1 + max((max(key) for key in pairs), default=-1)
    matrix = np.full((n, n), np.nan)
    for (i, j), result in pairs.items():
        matrix[i, j] = getattr(result, field, np.nan)
    return matrix


def pair_mask(evaluated: np.ndarray) -> np.ndarray:
    """Which similarities ``d[i, j]`` are known: both directions evaluated, i != j.

    Parameters
    ----------
    evaluated : ndarray of shape (N, N), bool
        ``evaluated[i, j]``: cross cell (i, j) is known.

    Returns
    -------
    ndarray of shape (N, N), bool, symmetric, with a False diagonal.
    """
    evaluated = np.asarray(evaluated, dtype=bool)
    usable = evaluated & evaluated.T
    np.fill_diagonal(usable, False)
    return usable


def centrality(cross: np.ndarray, evaluated: np.ndarray | None = None) -> np.ndarray:
    """Centrality of a cross matrix, or of a stack of them.

    Parameters
    ----------
    cross : ndarray of shape (..., N, N)
        Missing cells may hold anything (NaN): only ``evaluated`` cells are read.
    evaluated : ndarray of shape (N, N), bool, optional
        Known cells (default: all). A model's centrality averages the similarities to
        the models it was compared with in both directions.

    Returns
    -------
    ndarray of shape (..., N)
        ``M_i``; NaN for a model with no known similarity.
    """
    cross = np.asarray(cross, dtype=np.float64)
    n = cross.shape[-1]
    if cross.shape[-2:] != (n, n) or n < 2:
        raise ParameterError(
            f"cross must be a square matrix of at least 2 models, got {cross.shape[-2:]}"
        )
    similarity = (cross + np.swapaxes(cross, -1, -2)) / 2
    diagonal = np.diagonal(similarity, axis1=-2, axis2=-1)
    if evaluated is None:
        return (similarity.sum(axis=-1) - diagonal) / (n - 1)
    evaluated = np.asarray(evaluated, dtype=bool)
    usable = pair_mask(evaluated)
    on_diagonal = np.diagonal(evaluated).copy()
    # Summing the full row and subtracting the diagonal, as the dense formula does,
    # keeps a fully evaluated mask bit-identical to it.
    kept = usable | np.diag(on_diagonal)
    sums = np.where(kept, similarity, 0.0).sum(axis=-1) - np.where(on_diagonal, diagonal, 0.0)
    counts = usable.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def centrality_scores(
    cross: np.ndarray, evaluated: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetrised similarity and centrality from a cross matrix.

    Parameters
    ----------
    cross : ndarray of shape (N, N)
    evaluated : ndarray of shape (N, N), bool, optional
        Known cells (default: all).

    Returns
    -------
    similarity : ndarray of shape (N, N)
        ``(cross + cross.T) / 2``; NaN where either direction is unknown.
    scores : ndarray of shape (N,)
        See :func:`centrality`.
    """
    cross = np.asarray(cross, dtype=np.float64)
    scores = centrality(cross, evaluated)
    similarity = (cross + cross.T) / 2
    if evaluated is not None:
        known = np.asarray(evaluated, dtype=bool)
        similarity = np.where(known & known.T, similarity, np.nan)
    return similarity, scores

"""The outcome of a ranking, and its JSON form."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._version import __version__
from ..engine._uncertainty import CentralityUncertainty
from ..engine._votes import Protocol
from ..io._files import write_json


def json_matrix(values: np.ndarray) -> list:
    """A float array as nested lists, with NaN (a missing value) as null."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), None, values).tolist()


@dataclass
class RankResult:
    """Outcome of :func:`~modelcentrality.rank`.

    Attributes
    ----------
    names : list of str, length N
        Model names in input order; every array below follows this order.
    scores : ndarray of shape (N,)
        Centrality M_i: mean similarity of model i to the other models (to those it
        was compared with, when the search evaluated only some pairs; the adaptive
        search reports its own estimates, see
        :class:`~modelcentrality.selection.AdaptiveSearch`).
    cross : ndarray of shape (N, N)
        ``cross[i, j]``: FactorVAE score of encoder j on model i's generated groups;
        NaN where the search did not evaluate the pair. The diagonal is each model's
        self-consistency (not used by the centrality).
    similarity : ndarray of shape (N, N)
        ``(cross + cross.T) / 2``.
    revised_cross : ndarray of shape (N, N)
        Like ``cross`` with the paper's revised score (K largest vote-table rows).
    protocol : Protocol
    seed : int
    skipped : dict of str to str
        Models left out (name -> reason).
    uncertainty : CentralityUncertainty or None
        Bootstrap intervals (``scores_ci``) and top-model probabilities (``p_top``).
    votes : ndarray of shape (N, N) or None
        Training votes of source i behind ``cross[i, j]``; 0 where not evaluated.
    encoder_passes : int
        Observations encoded by this call (``encoder_passes_computed`` in the JSON).
    encoder_passes_cached : int
        Observations that the pairs served from the on-disk cache cost when they were
        computed: the work behind the result is the sum of the two.
    pairs_computed, pairs_cached : int
        Pair evaluations computed by this call, and served from the on-disk cache (a
        search that grows a pair's votes evaluates it once per vote count).
    precision : float or None
        The target standard error of the precision-targeted search, if used.
    search : str
        The search strategy's name.
    stop_reason : str
        Why the search stopped.
    target_reached : bool
        False when the search ran out of budget before its stopping rule held.
    details : dict
        Strategy-specific facts (e.g. the undecided candidates of an adaptive search).
    budget : dict
        The work actually behind the cells (which may differ from the protocol's
        defaults): ``votes_per_pair`` and ``scale_samples`` as [least, most] over the
        evaluated pairs, ``group_size``, and ``protocol_votes`` (the protocol's own
        votes per model kind in this zoo).
    tied : list of str
        Models a search could not separate from the leader within its budget (the
        leader included; their ``p_top`` says how often each came out on top); empty
        unless the search stopped on a tie.
    """

    names: list[str]
    scores: np.ndarray
    cross: np.ndarray
    similarity: np.ndarray
    revised_cross: np.ndarray
    protocol: Protocol
    seed: int
    skipped: dict[str, str] = field(default_factory=dict)
    uncertainty: CentralityUncertainty | None = None
    votes: np.ndarray | None = None
    encoder_passes: int = 0
    encoder_passes_cached: int = 0
    pairs_computed: int = 0
    pairs_cached: int = 0
    precision: float | None = None
    search: str = "full"
    stop_reason: str = "every pair evaluated"
    target_reached: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    tied: list[str] = field(default_factory=list)

    @property
    def scores_ci(self) -> np.ndarray | None:
        """Bootstrap interval of each score, shape (N, 2), or None."""
        return None if self.uncertainty is None else self.uncertainty.scores_ci

    @property
    def p_top(self) -> np.ndarray | None:
        """Probability that each model is the most central one, shape (N,), or None."""
        return None if self.uncertainty is None else self.uncertainty.p_top

    @property
    def order(self) -> np.ndarray:
        """Indices into ``names``, most central first (ties keep input order; models
        without a score last)."""
        return np.argsort(-np.nan_to_num(self.scores, nan=-np.inf), kind="stable")

    @property
    def ranking(self) -> list[str]:
        """Model names, most central (selected) first."""
        return [self.names[i] for i in self.order]

    @property
    def selected(self) -> str:
        """Name of the selected model (the medoid)."""
        return self.ranking[0]

    @property
    def self_consistency(self) -> np.ndarray:
        """``cross[i, i]``, shape (N,)."""
        return np.diag(self.cross).copy()

    @property
    def pairs_evaluated(self) -> int:
        """Number of cross cells behind the result."""
        return int(np.count_nonzero(self.votes)) if self.votes is not None else self.cross.size

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the CLI's output file); missing cells are null."""
        payload = {
            "names": list(self.names),
            "scores": json_matrix(self.scores),
            "ranking": self.ranking,
            "self_consistency": json_matrix(self.self_consistency),
            "cross": json_matrix(self.cross),
            "similarity": json_matrix(self.similarity),
            "revised_cross": json_matrix(self.revised_cross),
            "protocol": self.protocol.to_dict(),
            "seed": self.seed,
            "skipped": dict(self.skipped),
            "version": __version__,
            "votes": None if self.votes is None else self.votes.tolist(),
            # "encoder_passes" (the same number) is kept for readers of older files.
            "encoder_passes": self.encoder_passes,
            "encoder_passes_computed": self.encoder_passes,
            "encoder_passes_cached": self.encoder_passes_cached,
            "pairs_computed": self.pairs_computed,
            "pairs_cached": self.pairs_cached,
            "precision": self.precision,
            "budget": dict(self.budget),
            "tied": list(self.tied),
            "search": {
                "name": self.search,
                "stop_reason": self.stop_reason,
                "target_reached": self.target_reached,
                "pairs_evaluated": self.pairs_evaluated,
                **self.details,
            },
        }
        if self.uncertainty is not None:
            payload["scores_ci"] = json_matrix(self.uncertainty.scores_ci)
            payload["sampling_ci"] = json_matrix(self.uncertainty.sampling_ci)
            payload["p_top"] = self.uncertainty.p_top.tolist()
            payload["bootstrap"] = {
                "replicates": self.uncertainty.n_boot,
                "confidence": self.uncertainty.confidence,
            }
        return payload

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(path, self.to_dict())

"""The FactorVAE vote engine (Kim & Mnih, "Disentangling by Factorising", ICML 2018).

A *vote* is a group of L observations in which one factor k is held fixed. Encoding the
group, dividing by the per-dim scale and taking the dim with the smallest variance gives
a pair (d*, k). The vote table counts these pairs, the majority-vote classifier maps each
dim to its most frequent factor, and the score is the fraction of votes it gets right.

Two protocols are defined: ``"paper"`` (the InfoGAN-CR code) and
``"disentanglement_lib"``. Everything here works on small arrays (per-vote group
variances), so it is shared by ModelCentrality and the supervised FactorVAE metric.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numba
import numpy as np

from .._validation import check_choice, check_int
from ..errors import ModelCentralityError, ParameterError
from ._cells import ResamplableCell
from ._vote_bootstrap import VoteData, resample_vote_cells

#: Upper bounds of a protocol's sizes: far above any published protocol, low enough that
#: a typo fails at once with a one-line error instead of exhausting memory later.
MAX_GROUP_SIZE = 10_000
MAX_SCALE_SAMPLES = 10_000_000
MAX_VOTES = 10_000_000
#: Votes drawn per independent random block: the first m votes of a pair are the same
#: draws at any vote count, and the bootstrap's vote weights follow the same blocks.
VOTE_BLOCK = 100


@dataclass(frozen=True)
class Protocol:
    """How FactorVAE votes are drawn and scored.

    Attributes
    ----------
    name : str
    votes : int or None
        Votes used to fit the majority-vote classifier. None: 500 for GAN sources and
        1000 for VAE sources (the paper's settings).
    eval_votes : int
        Extra votes the classifier is scored on. 0: scored on its own training votes.
    group_size : int
        L, observations per vote.
    scale_samples : int
        S, observations used for the per-dim scale.
    factor_order : {"round_robin", "uniform"}
        Factor of vote v: ``v mod K``, or drawn uniformly at random.
    prune_std : float or None
        Dims whose global std is below this never vote (disentanglement_lib prunes on
        ``sqrt(variance) >= 0.05``); if all are pruned the score is 0. None: no pruning.
    similarity : str
        The registered cross-cell measure (:mod:`._similarities`) that ranking uses
        (``rank(similarity=...)`` sets it). It rides in the protocol so that it reaches
        the workers and every cache key; the other fields are FactorVAE's vote
        settings, which another similarity reads as far as it needs them.
    scale_from_groups : bool
        Estimate the per-dim scale from the pooled observations of the vote groups
        instead of a separate scale set of S observations (``scale_samples`` is then
        unused). Every group observation is a generator draw whose latents are all prior
        draws (one of them shared within its group), so the pooled moments estimate the
        same marginal scale without the extra encoder passes; the estimate is not the
        paper's, hence off by default.
    """

    name: str
    votes: int | None
    eval_votes: int
    group_size: int
    scale_samples: int
    factor_order: Literal["round_robin", "uniform"]
    prune_std: float | None
    similarity: str = "factorvae"
    scale_from_groups: bool = False

    def __post_init__(self) -> None:
        if self.votes is not None:
            check_int("votes", self.votes, minimum=1, maximum=MAX_VOTES)
        check_int("eval_votes", self.eval_votes, minimum=0, maximum=MAX_VOTES)
        check_int("group size", self.group_size, minimum=2, maximum=MAX_GROUP_SIZE)
        check_int("scale samples", self.scale_samples, minimum=2, maximum=MAX_SCALE_SAMPLES)
        check_choice("factor order", self.factor_order, ("round_robin", "uniform"))

    def train_votes_for(self, kind: str) -> int:
        """Number of training votes for a factor source of the given kind."""
        if self.votes is not None:
            return self.votes
        return 1000 if kind == "vae" else 500

    def with_overrides(
        self,
        votes: int | None = None,
        group_size: int | None = None,
        scale_samples: int | None = None,
        scale_from_groups: bool | None = None,
        similarity: str | None = None,
    ) -> Protocol:
        """A copy with any non-None field replaced."""
        changes = {
            key: value
            for key, value in (
                ("votes", votes),
                ("group_size", group_size),
                ("scale_samples", scale_samples),
                ("scale_from_groups", scale_from_groups),
                ("similarity", similarity),
            )
            if value is not None
        }
        return replace(self, **changes)

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "votes": self.votes,
            "eval_votes": self.eval_votes,
            "group_size": self.group_size,
            "scale_samples": self.scale_samples,
            "factor_order": self.factor_order,
            "prune_std": self.prune_std,
            # Only another similarity is recorded, so default keys (and cache keys made
            # from them) stay as they were before similarities were pluggable.
            **({} if self.similarity == "factorvae" else {"similarity": self.similarity}),
        }
        # Only when set, so that caches and results of the exact protocol keep their keys.
        if self.scale_from_groups:
            out["scale_from_groups"] = True
        return out


PAPER = Protocol(
    name="paper",
    votes=None,
    eval_votes=0,
    group_size=100,
    scale_samples=73_728,
    factor_order="round_robin",
    prune_std=None,
)
DISENTANGLEMENT_LIB = Protocol(
    name="disentanglement_lib",
    votes=10_000,
    eval_votes=5_000,
    group_size=64,
    scale_samples=10_000,
    factor_order="uniform",
    prune_std=0.05,
)
PROTOCOLS = {p.name: p for p in (PAPER, DISENTANGLEMENT_LIB)}


def get_protocol(protocol: str | Protocol) -> Protocol:
    """Look a protocol up by name ("paper" or "disentanglement_lib")."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise ParameterError(
            f"unknown protocol {protocol!r}; choose from {sorted(PROTOCOLS)}"
        ) from None


def vote_factors(
    n_votes: int, n_factors: int, order: str, rng: np.random.Generator, offset: int = 0
) -> np.ndarray:
    """Factor index of every vote, shape (n_votes,), int64.

    ``offset`` is the index of the first vote, so round-robin continues across blocks.
    """
    if order == "round_robin":
        return (np.arange(n_votes, dtype=np.int64) + offset) % n_factors
    return rng.integers(0, n_factors, size=n_votes, dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _winning_dims(group_var: np.ndarray, scale_var: np.ndarray, active: np.ndarray) -> np.ndarray:
    n_votes, n_dims = group_var.shape
    winners = np.full(n_votes, -1, dtype=np.int64)
    for v in range(n_votes):
        best = np.inf
        for d in range(n_dims):
            if active[d]:
                ratio = group_var[v, d] / scale_var[d]
                if ratio < best:
                    best = ratio
                    winners[v] = d
    return winners


def winning_dims(
    group_var: np.ndarray, scale_std: np.ndarray, prune_std: float | None = None
) -> np.ndarray:
    """The dim d* of every vote: argmin over dims of within-group variance / scale^2.

    Parameters
    ----------
    group_var : ndarray of shape (n_votes, E)
        Variance of each encoder dim inside each vote's group.
    scale_std : ndarray of shape (E,)
        Std of each dim over the scale set.
    prune_std : float or None
        Dims with ``scale_std < prune_std`` never win. Dims with zero scale never win
        either (they carry no information, and 0/0 would be undefined).

    Returns
    -------
    ndarray of shape (n_votes,), int64
        Winning dim per vote. With pruning, -1 where no dim is eligible (the vote is
        dropped, as in disentanglement_lib). Without pruning, such votes go to dim 0, as
        the reference code's argmin over 0/0 does: an uninformative encoder scores at
        chance level.
    """
    scale_std = np.asarray(scale_std, dtype=np.float64)
    active = scale_std > 0
    if prune_std is not None:
        active &= scale_std >= prune_std
    winners = _winning_dims(np.ascontiguousarray(group_var, dtype=np.float64), scale_std**2, active)
    if prune_std is None:
        winners[winners < 0] = 0
    return winners


def vote_table(dims: np.ndarray, factors: np.ndarray, n_dims: int, n_factors: int) -> np.ndarray:
    """Count votes: table[d, k] = number of votes won by dim d while factor k was fixed.

    Votes with ``dims == -1`` (no eligible dim) are dropped.

    Returns
    -------
    ndarray of shape (n_dims, n_factors), int64
    """
    keep = dims >= 0
    flat = dims[keep] * n_factors + factors[keep]
    return np.bincount(flat, minlength=n_dims * n_factors).reshape(n_dims, n_factors)


def majority_classifier(table: np.ndarray) -> np.ndarray:
    """Factor assigned to each dim: the column with most votes (ties: lowest index).

    Returns
    -------
    ndarray of shape (n_dims,), int64
    """
    return np.argmax(table, axis=1)


def table_score(train_table: np.ndarray, eval_table: np.ndarray | None = None) -> float:
    """Accuracy of the majority-vote classifier fit on ``train_table``.

    Scored on ``eval_table`` when given (disentanglement_lib), else on the training
    votes themselves (paper). An empty table scores 0.
    """
    target = train_table if eval_table is None else eval_table
    total = target.sum()
    if total == 0:
        return 0.0
    classifier = majority_classifier(train_table)
    return float(target[np.arange(target.shape[0]), classifier].sum() / total)


def revised_table_score(table: np.ndarray) -> float:
    """The paper's "revised" score: only the K largest row maxima count.

    A representation cannot win by having more dims than factors.
    """
    total = table.sum()
    if total == 0:
        return 0.0
    n_factors = table.shape[1]
    row_max = np.sort(table.max(axis=1))[::-1]
    return float(row_max[:n_factors].sum() / total)


@dataclass(frozen=True)
class VoteResult(ResamplableCell):
    """Outcome of one encoder on one factor source: the FactorVAE cell.

    Its value is ``score``; its stored form is the vote tables and its
    :class:`VoteData`; it is resampled by the stratified vote bootstrap.

    Attributes
    ----------
    score : float
        FactorVAE score (eval votes when the protocol has them).
    revised_score : float
        Revised score of the table the score is computed on.
    train_table : ndarray of shape (E, K)
    eval_table : ndarray of shape (E, K) or None
    scale_std : ndarray of shape (E,)
    data : VoteData or None
        The per-vote and per-scale-block statistics behind the score, for a bootstrap
        of every noise source; None: only the vote tables are known (the bootstrap then
        resamples them alone).
    """

    score: float
    revised_score: float
    train_table: np.ndarray
    eval_table: np.ndarray | None
    scale_std: np.ndarray
    data: VoteData | None = None

    @property
    def value(self) -> float:
        """The cross-matrix entry: the FactorVAE score."""
        return self.score

    def to_arrays(self) -> dict[str, np.ndarray] | None:
        """The stored form (the pair cache's entry); None without :class:`VoteData`."""
        data = self.data
        if data is None:
            return None
        eval_table = self.eval_table if self.eval_table is not None else np.zeros((0, 0))
        return {
            "score": np.asarray(self.score, dtype=np.float64),
            "revised_score": np.asarray(self.revised_score, dtype=np.float64),
            "train_table": np.asarray(self.train_table),
            "eval_table": np.asarray(eval_table),
            "scale_std": np.asarray(self.scale_std),
            "group_var": np.asarray(data.group_var, dtype=np.float64),
            "factors": np.asarray(data.factors, dtype=np.int64),
            "n_train": np.asarray(data.n_train, dtype=np.int64),
            "scale_counts": np.asarray(data.scale_counts, dtype=np.int64),
            "scale_means": np.asarray(data.scale_means, dtype=np.float64),
            "scale_m2": np.asarray(data.scale_m2, dtype=np.float64),
            "prune_std": np.asarray(np.nan if data.prune_std is None else data.prune_std),
        }

    @classmethod
    def from_arrays(cls, arrays) -> VoteResult:
        """The cell back from :meth:`to_arrays`; ModelCentralityError for a non-finite score."""
        score, revised = float(arrays["score"]), float(arrays["revised_score"])
        if not (np.isfinite(score) and np.isfinite(revised)):
            raise ModelCentralityError("non-finite score")
        eval_table = arrays["eval_table"]
        prune_std = float(arrays["prune_std"])
        data = VoteData(
            group_var=arrays["group_var"],
            factors=arrays["factors"],
            n_train=int(arrays["n_train"]),
            scale_counts=arrays["scale_counts"],
            scale_means=arrays["scale_means"],
            scale_m2=arrays["scale_m2"],
            prune_std=None if np.isnan(prune_std) else prune_std,
        )
        return cls(
            score=score,
            revised_score=revised,
            train_table=arrays["train_table"],
            eval_table=eval_table if eval_table.size else None,
            scale_std=arrays["scale_std"],
            data=data,
        )

    @classmethod
    def resample_source(cls, cells, n_boot, rng, keys) -> np.ndarray:
        """The stratified vote bootstrap of a source's cells (:mod:`._vote_bootstrap`):
        replicates of the paper score and of the held-out score."""
        return resample_vote_cells(cells, n_boot, rng, keys, VOTE_BLOCK)


def score_votes(
    group_var: np.ndarray,
    scale_std: np.ndarray,
    factors: np.ndarray,
    n_factors: int,
    n_train: int,
    prune_std: float | None = None,
) -> VoteResult:
    """Score one encoder from its per-vote group variances.

    Parameters
    ----------
    group_var : ndarray of shape (n_votes, E)
        Within-group variance per vote and dim; the first ``n_train`` votes train the
        classifier, the rest (if any) evaluate it.
    scale_std : ndarray of shape (E,)
    factors : ndarray of shape (n_votes,)
        Factor held fixed in each vote.
    n_factors : int
        K, number of factors of the source.
    n_train : int
    prune_std : float or None
    """
    n_dims = group_var.shape[1]
    dims = winning_dims(group_var, scale_std, prune_std)
    train = vote_table(dims[:n_train], factors[:n_train], n_dims, n_factors)
    evaluation = None
    if len(factors) > n_train:
        evaluation = vote_table(dims[n_train:], factors[n_train:], n_dims, n_factors)
    scored = train if evaluation is None else evaluation
    return VoteResult(
        score=table_score(train, evaluation),
        revised_score=revised_table_score(scored),
        train_table=train,
        eval_table=evaluation,
        scale_std=np.asarray(scale_std, dtype=np.float64),
    )

"""Search strategies: which pairs to evaluate, at how many votes, and when to stop.

A strategy drives a :class:`~modelcentrality.selection.PairEvaluator` and returns a
:class:`SearchOutcome`. :func:`~modelcentrality.rank` turns the outcome into a
:class:`~modelcentrality.RankResult`. A new strategy is one new module with a
:class:`SearchStrategy` subclass, registered in
:data:`~modelcentrality.selection.SEARCHES` (:func:`~modelcentrality.selection.register_search`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_fraction, check_int
from ..engine import (
    VOTE_BLOCK,
    Cell,
    CentralityUncertainty,
    centrality,
    centrality_uncertainty,
    cross_matrix,
)
from ._evaluator import PairEvaluator


@dataclass
class SearchOutcome:
    """What a search evaluated, and why it stopped.

    Attributes
    ----------
    votes : ndarray of shape (N, N), int64
        Training votes behind each cross cell; 0 where the pair was not evaluated.
    results : dict of (int, int) to Cell
        Every evaluated pair, at ``votes[i, j]``.
    uncertainty : CentralityUncertainty or None
        Bootstrap of the final results, when the search made one.
    stop_reason : str
        One line saying why the search ended (e.g. "every pair evaluated").
    target_reached : bool
        False when the search ran out of budget before its own stopping rule held.
    rounds : int
        Evaluation rounds.
    details : dict
        Strategy-specific facts for the result's JSON.
    scores : ndarray of shape (N,) or None
        Centralities estimated by the strategy itself; None: the masked centrality of
        the evaluated pairs.
    tied : list of int
        Models the search could not separate from the leader within its budget (the
        leader included); empty when it did not stop on a tie.
    """

    votes: np.ndarray
    results: dict[tuple[int, int], Cell]
    uncertainty: CentralityUncertainty | None
    stop_reason: str
    target_reached: bool = True
    rounds: int = 1
    details: dict[str, Any] = field(default_factory=dict)
    scores: np.ndarray | None = None
    tied: list[int] = field(default_factory=list)


class SearchStrategy(ABC):
    """Decides which pairs a ranking evaluates.

    Attributes
    ----------
    name : str
        Registered name (``rank --search NAME``).
    scale_samples_per_vote : int
        0: every pair's scale set has the protocol's S. Otherwise S follows the votes
        (see :class:`~modelcentrality.selection.PairEvaluator`), unless the caller
        fixes S.
    same_scale : bool
        With ``scale_samples_per_vote``: S is the one of the vote cap for every pair
        (the same scale-set size for all pairs compared), not of each pair's votes.
    """

    name: ClassVar[str]
    scale_samples_per_vote: int = 0
    same_scale: ClassVar[bool] = False

    @abstractmethod
    def search(
        self, evaluator: PairEvaluator, full_votes: np.ndarray, n_boot: int
    ) -> SearchOutcome:
        """Evaluate pairs through ``evaluator`` and report the outcome.

        Parameters
        ----------
        evaluator : PairEvaluator
        full_votes : ndarray of shape (N, N), int64
            The protocol's votes for every pair: never exceeded.
        n_boot : int
            Bootstrap replicates wanted in the outcome (0: none, if the strategy does
            not need them itself). A strategy that bootstraps calls
            ``evaluator.check_resampling`` before it evaluates any pair.
        """


def round_up_to_block(votes: np.ndarray) -> np.ndarray:
    """Votes rounded up to whole vote blocks (a grown pair reuses its first blocks)."""
    return (-(-np.asarray(votes) // VOTE_BLOCK) * VOTE_BLOCK).astype(np.int64)


def _all_pairs(votes: np.ndarray) -> dict[tuple[int, int], int]:
    n = len(votes)
    return {(i, j): int(votes[i, j]) for i in range(n) for j in range(n)}


class FullSearch(SearchStrategy):
    """Every ordered pair at the protocol's votes: the paper's ModelCentrality."""

    name = "full"

    def search(self, evaluator, full_votes, n_boot):
        if n_boot:
            evaluator.check_resampling("bootstrap intervals")
        results = evaluator.evaluate(_all_pairs(full_votes), "ranking")
        uncertainty = (
            centrality_uncertainty(
                results, n_boot, random_state=evaluator.seed, n=len(full_votes),
                names=[model.name for model in evaluator.models],
            )
            if n_boot
            else None
        )
        return SearchOutcome(full_votes, results, uncertainty, "every pair evaluated")


def _work(evaluator: PairEvaluator, votes: np.ndarray, before: np.ndarray | None = None) -> int:
    """Encoder passes of evaluating ``votes`` (only pairs whose votes change from
    ``before``, and that the evaluator has not computed yet)."""
    total = 0
    for (i, j), v in _all_pairs(votes).items():
        if v and (before is None or v != before[i, j]) and not evaluator.is_known(i, j, v):
            total += evaluator.pair_cost(i, v)
    return total


@dataclass
class PrecisionSearch(SearchStrategy):
    """Votes per pair chosen from the data until every centrality is precise enough.

    Round 1 gives every pair ``pilot_votes``. While some centrality's bootstrap standard
    error exceeds ``precision``, every pair's votes grow by the factor that the
    1/sqrt(M) law predicts for the worst model, times ``growth``. Then, with
    ``refine_top``, pairs that involve a model whose interval overlaps the leader's
    multiply their votes by ``refine_factor`` until the leader's p_top reaches
    ``target_p_top``. Votes never exceed the protocol's.

    Every pair has the same scale set (S of the vote cap, see
    ``scale_samples_per_vote``), whatever its votes: a smaller scale set would shift
    scores, not only blur them. Refinement grows every pair of a contender, so the
    contenders are compared at equal votes (a score's small-vote bias, see
    :func:`~modelcentrality.engine.centrality_uncertainty`, is then the same kind for
    all of them).

    The cost is bounded three ways, each with its own stop reason. Refinement may
    spend at most ``refine_budget`` times the passes spent before it; before each
    refinement round the search predicts, from the standard error of the difference
    between the leader and the runner-up and the 1/sqrt(M) law, how much refinement
    separating them needs, and when that does not fit in what is left (or the gap is
    below the resolution every pair at the vote cap reaches) it stops and reports a
    tie: the contenders (``SearchOutcome.tied``), their p_top and the standard error
    reached. The whole search stops before a round that would pass ``max_passes``
    encoder passes (default: twice the passes of every pair at the vote cap), and after
    the first round that ends past ``max_seconds``. At most ``max_rounds`` rounds.

    Parameters
    ----------
    precision : float
        Target bootstrap standard error of every centrality (e.g. 0.005). Votes are
        drawn in fixed blocks, so a pair with m votes uses exactly the first m votes of
        the full protocol's draw.
    refine_top : bool
        Once the precision is reached, also spend votes where they decide the top of
        the ranking, until the leader's p_top reaches ``target_p_top`` or the leaders
        prove inseparable within ``refine_budget`` (then ``RankResult.tied`` names
        them).
    pilot_votes : int
        Votes of every pair in round 1 (rounded up to whole vote blocks).
    growth : float
        Safety factor (> 1) on the predicted growth, so a round rarely falls just short.
    max_rounds : int
    target_p_top : float
    refine_factor : int
    scale_samples_per_vote : int
        S is this many observations per vote of the vote cap (at least 2,000, at most
        the protocol's), for every pair, unless S is fixed: at 20 the scale set's std
        is off by about 1/sqrt(2 S), well below the vote noise at the cap. Its noise is
        in the bootstrap, so it shows up as a floor of the standard error that no
        number of votes removes.
    refine_budget : float
        Refinement passes, as a multiple of the passes spent before refinement (so
        with tied leaders the search costs at most ``1 + refine_budget`` times the
        search without refinement).
    max_passes : int, optional
        Cap on the encoder passes of the whole search.
    max_seconds : float, optional
        Cap on the wall-clock time; checked between rounds.
    """

    precision: float
    refine_top: bool = True
    pilot_votes: int = 100
    growth: float = 1.1
    max_rounds: int = 11
    target_p_top: float = 0.95
    refine_factor: int = 2
    scale_samples_per_vote: int = 20
    refine_budget: float = 1.0
    max_passes: int | None = None
    max_seconds: float | None = None
    min_bootstrap: ClassVar[int] = 100
    same_scale: ClassVar[bool] = True
    name: ClassVar[str] = "precision"

    def __post_init__(self) -> None:
        check_float("precision", self.precision, minimum=0, open_minimum=True)
        check_int("pilot_votes", self.pilot_votes, minimum=1)
        check_float("growth", self.growth, minimum=1)
        check_int("max_rounds", self.max_rounds, minimum=1)
        check_fraction("target_p_top", self.target_p_top)
        check_int("refine_factor", self.refine_factor, minimum=2)
        check_int("scale_samples_per_vote", self.scale_samples_per_vote, minimum=0)
        check_float("refine_budget", self.refine_budget, minimum=0)
        if self.max_passes is not None:
            check_int("max_passes", self.max_passes, minimum=1)
        if self.max_seconds is not None:
            check_float("max_seconds", self.max_seconds, minimum=0, open_minimum=True)

    def search(self, evaluator, full_votes, n_boot):
        evaluator.check_resampling("the precision search")
        n = len(full_votes)
        n_boot = max(n_boot, self.min_bootstrap)
        started, spent_before = time.monotonic(), evaluator.encoder_passes
        max_passes = self.max_passes or 2 * _work(evaluator, full_votes)
        votes = np.minimum(round_up_to_block(np.full((n, n), self.pilot_votes)), full_votes)
        refine_start = None
        for round_number in range(1, self.max_rounds + 1):
            phase = "refine top" if refine_start is not None else "precision"
            results = evaluator.evaluate(_all_pairs(votes), f"round {round_number} ({phase})")
            uncertainty = centrality_uncertainty(
                results, n_boot, random_state=evaluator.seed, n=n,
                names=[model.name for model in evaluator.models],
            )
            scores = centrality(cross_matrix(results, n))
            spent = evaluator.encoder_passes - spent_before
            worst = float(uncertainty.std.max())
            p_top = float(uncertainty.p_top.max())
            state = (votes, results, uncertainty, scores, round_number)
            if worst > self.precision:
                factor = self.growth * (worst / self.precision) ** 2
                grown = round_up_to_block(np.ceil(votes * factor).astype(np.int64))
                new_votes = np.minimum(grown, full_votes)
                shortfall = f"standard error {worst:.4f} > target {self.precision:g}"
            elif self.refine_top and p_top < self.target_p_top:
                if refine_start is None:
                    refine_start = spent
                contenders = _contenders(uncertainty, scores)
                involved = contenders[:, None] | contenders[None, :]
                new_votes = np.where(
                    involved, np.minimum(votes * self.refine_factor, full_votes), votes
                )
                shortfall = f"leader's p_top {p_top:.3f} < target {self.target_p_top:g}"
                left = self.refine_budget * refine_start - (spent - refine_start)
                why = self._unseparable(
                    evaluator, uncertainty, scores, votes, full_votes, involved, left
                )
                if why:
                    tied = [int(i) for i in np.flatnonzero(contenders)]
                    return _outcome(state, f"tie: {shortfall}; {why}", False, tied)
            else:
                reason = f"standard error {worst:.4f} <= target {self.precision:g}"
                if self.refine_top:
                    reason += f" and leader's p_top {p_top:.3f} >= {self.target_p_top:g}"
                return _outcome(state, reason, True)
            tied = None
            if refine_start is not None:
                tied = [int(i) for i in np.flatnonzero(_contenders(uncertainty, scores))]
            if np.array_equal(new_votes, votes):
                return _outcome(
                    state,
                    f"stopped short: {shortfall}, and every pair that matters is at the "
                    f"protocol's votes",
                    False,
                    tied,
                )
            cost = _work(evaluator, new_votes, votes)
            if refine_start is not None and spent + cost > (1 + self.refine_budget) * refine_start:
                return _outcome(
                    state,
                    f"tie: {shortfall}; the next round ({cost:,} encoder passes) would pass "
                    f"the refinement budget",
                    False,
                    tied,
                )
            if spent + cost > max_passes:
                return _outcome(
                    state,
                    f"stopped short: {shortfall}; the next round ({cost:,} encoder passes) "
                    f"would pass the cap of {max_passes:,}",
                    False,
                    tied,
                )
            elapsed = time.monotonic() - started
            if self.max_seconds is not None and elapsed > self.max_seconds:
                return _outcome(
                    state,
                    f"stopped short: {shortfall} after {elapsed:.0f} s "
                    f"(time cap {self.max_seconds:g} s)",
                    False,
                    tied,
                )
            votes = new_votes
        return _outcome(
            state, f"stopped short: {shortfall} after {self.max_rounds} rounds", False, tied
        )

    def _unseparable(
        self, evaluator, uncertainty, scores, votes, full_votes, involved, left
    ) -> str | None:
        """Why refinement cannot separate the leader from the runner-up within the
        budget left (None: it may)."""
        gap, gap_se = _leader_gap(uncertainty, scores)
        # p_top reaches the target when the gap is about z standard errors.
        z = NormalDist().inv_cdf(self.target_p_top)
        at_cap = float(np.min(np.sqrt(votes[involved] / full_votes[involved])))
        if gap <= z * gap_se * at_cap:
            return (
                f"the leaders' gap {gap:.4f} is below the resolution "
                f"{z * gap_se * at_cap:.4f} of every pair at the vote cap"
            )
        needed = (z * gap_se / gap) ** 2
        planned, growth, cost = votes, 1.0, 0
        while growth < needed:
            grown = np.where(
                involved, np.minimum(planned * self.refine_factor, full_votes), planned
            )
            if np.array_equal(grown, planned):
                break
            cost += _work(evaluator, grown, planned)
            planned = grown
            growth *= self.refine_factor
        if cost > left:
            return (
                f"separating a gap of {gap:.4f} (standard error {gap_se:.4f}) needs about "
                f"{needed:.1f}x the votes, {cost:,} encoder passes, over the refinement "
                f"budget left ({max(0, int(left)):,})"
            )
        return None


def _outcome(
    state: tuple, reason: str, reached: bool, tied: list[int] | None = None
) -> SearchOutcome:
    """The outcome of a precision search's last round, ``state``: votes, results,
    uncertainty, scores and round number."""
    votes, results, uncertainty, scores, round_number = state
    details: dict[str, Any] = {"standard_error": float(uncertainty.std.max())}
    if tied:
        gap, gap_se = _leader_gap(uncertainty, scores)
        details.update(leader_gap=gap, leader_gap_standard_error=gap_se)
    return SearchOutcome(
        votes, results, uncertainty, reason, reached, round_number, details, tied=tied or []
    )


def _contenders(uncertainty: CentralityUncertainty, scores: np.ndarray) -> np.ndarray:
    """Models whose interval overlaps the leader's, shape (N,), bool."""
    leader = int(np.nanargmax(scores))
    low, high = uncertainty.sampling_ci.T
    return np.nan_to_num(high, nan=-np.inf) >= low[leader]


def _leader_gap(uncertainty: CentralityUncertainty, scores: np.ndarray) -> tuple[float, float]:
    """The leader's lead over the runner-up, and its bootstrap standard error."""
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    leader, runner_up = int(order[0]), int(order[1])
    difference = uncertainty.replicates[:, leader] - uncertainty.replicates[:, runner_up]
    return float(scores[leader] - scores[runner_up]), float(difference.std(ddof=1))

"""Search strategies: which pairs to evaluate, at how many votes, and when to stop.

A strategy drives a :class:`~modelcentrality.selection.PairEvaluator` and returns a
:class:`SearchOutcome`. :func:`~modelcentrality.rank` turns the outcome into a
:class:`~modelcentrality.RankResult`. A new strategy is one new module with a
:class:`SearchStrategy` subclass plus one line in :data:`SEARCHES`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_fraction, check_int
from ..engine._centrality import centrality, cross_matrix
from ..engine._scoring import VOTE_BLOCK
from ..engine._uncertainty import CentralityUncertainty, centrality_uncertainty
from ..engine._votes import VoteResult
from ..errors import ParameterError
from ._evaluator import PairEvaluator


@dataclass
class SearchOutcome:
    """What a search evaluated, and why it stopped.

    Attributes
    ----------
    votes : ndarray of shape (N, N), int64
        Training votes behind each cross cell; 0 where the pair was not evaluated.
    results : dict of (int, int) to VoteResult
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
    """

    votes: np.ndarray
    results: dict[tuple[int, int], VoteResult]
    uncertainty: CentralityUncertainty | None
    stop_reason: str
    target_reached: bool = True
    rounds: int = 1
    details: dict[str, Any] = field(default_factory=dict)
    scores: np.ndarray | None = None


class SearchStrategy(ABC):
    """Decides which pairs a ranking evaluates.

    Attributes
    ----------
    name : str
        Registered name (``rank --search NAME``).
    scale_samples_per_vote : int
        0: every pair's scale set has the protocol's S. Otherwise S follows each pair's
        votes (see :class:`~modelcentrality.selection.PairEvaluator`), unless the caller
        fixes S.
    """

    name: ClassVar[str]
    scale_samples_per_vote: int = 0

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
            not need them itself).
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
        results = evaluator.evaluate(_all_pairs(full_votes), "ranking")
        uncertainty = (
            centrality_uncertainty(results, n_boot, random_state=evaluator.seed, n=len(full_votes))
            if n_boot
            else None
        )
        return SearchOutcome(full_votes, results, uncertainty, "every pair evaluated")


@dataclass
class PrecisionSearch(SearchStrategy):
    """Votes per pair chosen from the data until every centrality is precise enough.

    Round 1 gives every pair ``pilot_votes``. While some centrality's bootstrap standard
    error exceeds ``precision``, every pair's votes grow by the factor that the
    1/sqrt(M) law predicts for the worst model, times ``growth``. Then, with
    ``refine_top``, pairs that involve a model whose interval overlaps the leader's
    multiply their votes by ``refine_factor`` until the leader's p_top reaches
    ``target_p_top``. Votes never exceed the protocol's, so the cost can only approach
    the full protocol's. At most ``max_rounds`` rounds.

    Parameters
    ----------
    precision : float
        Target bootstrap standard error of every centrality (e.g. 0.005).
    refine_top : bool
    pilot_votes : int
    growth : float
        Safety factor (> 1) on the predicted growth, so a round rarely falls just short.
    max_rounds : int
    target_p_top : float
    refine_factor : int
    scale_samples_per_vote : int
        S follows the votes at this ratio unless fixed: a std estimated from S samples
        is off by about 1/sqrt(2 S), well below the vote noise of M votes at 20 per vote.
    """

    precision: float
    refine_top: bool = True
    pilot_votes: int = 100
    growth: float = 1.1
    max_rounds: int = 11
    target_p_top: float = 0.95
    refine_factor: int = 2
    scale_samples_per_vote: int = 20
    min_bootstrap: ClassVar[int] = 100
    name: ClassVar[str] = "precision"

    def __post_init__(self) -> None:
        check_float("precision", self.precision, minimum=0, open_minimum=True)
        check_int("pilot_votes", self.pilot_votes, minimum=1)
        check_float("growth", self.growth, minimum=1)
        check_int("max_rounds", self.max_rounds, minimum=1)
        check_fraction("target_p_top", self.target_p_top)
        check_int("refine_factor", self.refine_factor, minimum=2)
        check_int("scale_samples_per_vote", self.scale_samples_per_vote, minimum=0)

    def search(self, evaluator, full_votes, n_boot):
        n = len(full_votes)
        n_boot = max(n_boot, self.min_bootstrap)
        votes = np.minimum(round_up_to_block(np.full((n, n), self.pilot_votes)), full_votes)
        for round_number in range(1, self.max_rounds + 1):
            results = evaluator.evaluate(
                _all_pairs(votes), f"round {round_number} (of at most {self.max_rounds})"
            )
            uncertainty = centrality_uncertainty(results, n_boot, random_state=evaluator.seed)
            worst = float(uncertainty.std.max())
            p_top = float(uncertainty.p_top.max())
            if worst > self.precision:
                factor = self.growth * (worst / self.precision) ** 2
                grown = round_up_to_block(np.ceil(votes * factor).astype(np.int64))
                new_votes = np.minimum(grown, full_votes)
                shortfall = f"standard error {worst:.4f} > target {self.precision:g}"
            elif self.refine_top and p_top < self.target_p_top:
                leader = int(np.argmax(centrality(cross_matrix(results, n))))
                low, high = uncertainty.scores_ci.T
                contenders = high >= low[leader]
                involved = contenders[:, None] | contenders[None, :]
                new_votes = np.where(
                    involved, np.minimum(votes * self.refine_factor, full_votes), votes
                )
                shortfall = f"leader's p_top {p_top:.3f} < target {self.target_p_top:g}"
            else:
                reason = f"standard error {worst:.4f} <= target {self.precision:g}"
                if self.refine_top:
                    reason += f" and leader's p_top {p_top:.3f} >= {self.target_p_top:g}"
                return SearchOutcome(votes, results, uncertainty, reason, True, round_number)
            if np.array_equal(new_votes, votes):
                return SearchOutcome(
                    votes, results, uncertainty,
                    f"stopped short: {shortfall}, and every pair that matters is at the "
                    f"protocol's votes",
                    False, round_number,
                )
            votes = new_votes
        return SearchOutcome(
            votes, results, uncertainty,
            f"stopped short: {shortfall} after {self.max_rounds} rounds",
            False, self.max_rounds,
        )


# Imported here, not at the top: the strategy subclasses the classes defined above.
from ._adaptive import AdaptiveSearch  # noqa: E402

#: Registered strategies, by name.
SEARCHES: dict[str, type[SearchStrategy]] = {
    FullSearch.name: FullSearch,
    PrecisionSearch.name: PrecisionSearch,
    AdaptiveSearch.name: AdaptiveSearch,
}


def make_search(name: str, **options: Any) -> SearchStrategy:
    """A registered strategy built from its options (None values count as not given).

    Raises
    ------
    ParameterError
        For an unknown name, an option the strategy does not take (it would be ignored
        silently otherwise), or a required option that is missing.
    """
    if name not in SEARCHES:
        raise ParameterError(f"search must be one of {sorted(SEARCHES)}, got {name!r}")
    cls = SEARCHES[name]
    accepted = inspect.signature(cls).parameters
    kwargs = {key: value for key, value in options.items() if value is not None}
    foreign = sorted(set(kwargs) - set(accepted))
    if foreign:
        raise ParameterError(f"search {name!r} does not take {', '.join(foreign)}")
    missing = [
        key for key, p in accepted.items()
        if p.default is inspect.Parameter.empty and key not in kwargs
    ]
    if missing:
        raise ParameterError(f"search {name!r} needs {', '.join(missing)}")
    return cls(**kwargs)

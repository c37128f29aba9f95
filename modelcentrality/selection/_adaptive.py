"""Adaptive medoid search: find the most central model (or the top k) from a sample of
pairs, in about N log N pair evaluations instead of N^2.

This is the successive-elimination medoid bandit (Bagaria et al., "Medoids in
almost-linear time via multi-armed bandits", AISTATS 2018; Tiwari et al., "BanditPAM",
NeurIPS 2020) on ModelCentrality's similarity ``d[i, j] = (cross[i, j] + cross[j, i]) / 2``.

Each round, every surviving candidate i is compared with more *reference* models r:
both cells (i, r) and (r, i) are requested from the
:class:`~modelcentrality.selection.PairEvaluator` (the one implementation of a cell,
with its cache and backends), so ``d[i, r]`` is known. The first round gives every
model ``initial_references`` references; each later round multiplies the survivors'
references by ``growth``, so the number of rounds is logarithmic in N.

Choices, and why:

- **Shared references.** References come in the order of one permutation of the zoo,
  keyed by the seed (and the models' names, not their positions), and every survivor
  uses the same prefix of it. Comparisons are then *paired*: a reference that every
  model finds hard (an entangled model) lowers every candidate's mean alike, and
  cancels out of their differences, which decide elimination (correlated sampling,
  Baharav & Tse, "Ultra fast medoid identification via correlated sequential halving",
  NeurIPS 2019). Independent references per candidate leave that common term in every
  difference: in a trial on one synthetic zoo of N = 200, independent references left
  46 candidates after four rounds, shared ones 1. One source's generated sets then
  serve every survivor's encoder in a single task.
- **Estimate.** ``M_i`` is the mean of ``d[i, r]`` over i's references (i itself
  excluded): a simple random sample of the other models, so an unbiased estimate of the
  full ``M_i``. A reference model compared with every candidate knows more similarities
  than its prefix; only the prefix is used, so no estimate leans on the survivors. The
  result's ``scores`` are these estimates (NaN below 2 references).
- **Confidence: bootstrap, not an empirical-Bernstein bound.** Two noise sources add:
  which references were sampled, and the finite votes behind each cell. A Bernstein
  bound covers the first only, with worst-case constants that need several times more
  references for the same decision, and it cannot pair candidates. The bootstrap
  resamples reference positions once per replicate for all candidates (keeping them
  paired), scales each deviation by the finite-population correction
  ``sqrt((N - 1 - n) / (N - 2))`` (a candidate compared with all others has no
  reference noise left), and adds each candidate's vote noise: a normal term whose
  variance comes from the per-cell vote bootstrap
  (:func:`~modelcentrality.engine.bootstrap_cross`, computed once per cell and vote
  count) averaged over its references.
- **Elimination.** Each round, every model is compared with the k-th leader L (by
  estimate, among the survivors) on the model's own references: the paired difference
  ``mean_r (d[i, r] - d[L, r])`` has the sign of ``M_i - M_L`` when both are compared
  with everyone, and far less noise than the two means apart. A model whose difference
  is below zero at one-sided ``confidence`` (normal bound; its spread from the
  reference bootstrap plus both models' vote noise) gets no more references. The test is
  repeated each round against the current leader; a dropped model comes back when its
  difference to a later leader is positive (an early leader is often overrated, being
  the best of many noisy estimates), not merely uncertain, which would re-admit most of
  a large zoo. p_top and intervals are reported for the survivors only: a dropped model
  is out at the elimination confidence, and its score is the k-th leader's plus its
  paired difference (comparable with the survivors' scores, and below the leaders').
- **Votes.** Pairs start at ``pilot_votes`` (one vote block of 100 by default). A
  survivor's pairs double their votes (in whole blocks, up to the protocol's) only when
  its vote noise exceeds its reference noise: then more votes, not more references,
  tighten its interval. A pair at m votes uses exactly the first m votes of the full
  protocol's draw.
- **Stopping.** The target is reached when each of the k leaders is in the top k in at
  least ``target`` of the replicates (for k = 1: the leader's p_top) and every survivor
  has an estimate. The search stops short when ``max_pairs`` pair evaluations are
  spent, when nothing is left to evaluate, or after ``max_rounds`` rounds;
  ``stop_reason`` says which.
- **Determinism.** The search runs on the models sorted by name and keys every draw
  (the reference order, the bootstraps) by the seed, so the result is the same
  whatever the zoo's order, backend or cache. Each cell's votes are the evaluator's,
  keyed by seed and model name.

The confidence covers vote noise and the sampling of references. It says nothing about
variation between training runs (another seed of the same configuration may land
elsewhere).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import norm

from .._seeding import check_random_state, keyed_rng
from .._validation import check_float, check_fraction, check_int
from ..engine import Cell, CentralityUncertainty, bootstrap_cross, cross_matrix
from ..errors import ParameterError
from ._evaluator import PairEvaluator
from ._search import SearchOutcome, SearchStrategy, round_up_to_block

#: Bootstrap replicates behind each cell's vote variance.
CELL_BOOTSTRAP = 100


def reference_order(names: list[str], random_state: int) -> np.ndarray:
    """The order in which models become references: a permutation keyed by the seed.

    Parameters
    ----------
    names : list of str, length N
        Unique model names, in any order.
    random_state : int

    Returns
    -------
    ndarray of shape (N,), int
        Indices into ``names``; the same models in the same order whatever the order of
        ``names``.
    """
    by_name = np.argsort(np.array(names, dtype=object), kind="stable")
    return by_name[keyed_rng(random_state, "adaptive").permutation(len(names))]


def prefix_lengths(known: np.ndarray, order: np.ndarray) -> np.ndarray:
    """How far along ``order`` each model's similarities are known without a gap.

    Parameters
    ----------
    known : ndarray of shape (N, N), bool
        Known similarities (a model's own position in ``order`` never breaks its prefix).
    order : ndarray of shape (N,), int

    Returns
    -------
    ndarray of shape (N,), int
        ``m_i``: positions ``order[:m_i]`` are i itself or known for i.
    """
    n = len(order)
    along = known[:, order] | (order[None, :] == np.arange(n)[:, None])
    gaps = ~along
    return np.where(gaps.any(axis=1), gaps.argmax(axis=1), n)


def reference_means(
    similarity: np.ndarray,
    order: np.ndarray,
    lengths: np.ndarray,
    n_boot: int,
    random_state: Any = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each model's mean similarity to its references, and a paired bootstrap of it.

    Model i's references are ``order[:lengths[i]]`` without i (and without any NaN
    similarity, e.g. a difference to a model's own diagonal). The bootstrap resamples
    reference *positions* once per replicate for all models, so two models compared with
    the same references stay paired, and scales each model's deviation by the
    finite-population correction ``sqrt((N - 1 - n_i) / (N - 2))`` for n_i references out
    of N - 1 (no reference noise is left once a model is compared with all others).

    Parameters
    ----------
    similarity : ndarray of shape (N, N)
        Read only on references.
    order : ndarray of shape (N,), int
    lengths : ndarray of shape (N,), int
    n_boot : int
    random_state : int, Generator or None

    Returns
    -------
    estimate : ndarray of shape (N,)
        NaN for a model with fewer than 2 references (no spread to judge it by).
    deviations : ndarray of shape (n_boot, N)
        Replicate minus estimate (0 where a replicate drew none of its references).
    """
    rng = check_random_state(random_state)
    n = len(order)
    width = int(lengths.max(initial=0))
    positions = np.arange(width)
    columns = order[:width]
    use = (positions[None, :] < lengths[:, None]) & (columns[None, :] != np.arange(n)[:, None])
    use &= ~np.isnan(similarity[:, columns])
    values = np.where(use, np.nan_to_num(similarity[:, columns]), 0.0)
    weights = use.astype(np.float64)
    counts = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(counts >= 2, values.sum(axis=1) / counts, np.nan)
    if width == 0:
        return estimate, np.zeros((n_boot, n))
    draws = rng.integers(0, width, size=(n_boot, width))
    multiplicity = np.zeros((n_boot, width))
    np.add.at(multiplicity, (np.arange(n_boot)[:, None], draws), 1.0)
    numerator = multiplicity @ values.T
    denominator = multiplicity @ weights.T
    with np.errstate(invalid="ignore", divide="ignore"):
        deviations = np.where(denominator > 0, numerator / denominator - estimate, 0.0)
    deviations[:, np.isnan(estimate)] = 0.0
    population = n - 1
    correction = np.sqrt(np.maximum(population - counts, 0) / max(population - 1, 1))
    return estimate, np.nan_to_num(deviations) * correction


def eliminate(
    difference: np.ndarray, spread: np.ndarray, confidence: float, alive: np.ndarray
) -> np.ndarray:
    """Survivors: candidates not shown to rank below the k-th leader.

    A candidate is out when the upper bound ``difference + z spread`` of its paired
    difference to the k-th leader (z the normal quantile of ``confidence``) is below 0.
    A dropped candidate comes back only when its difference is above 0, i.e. when a
    later leader looks worse than it on its own references (an early leader is often
    overrated: the best of many noisy estimates).

    Parameters
    ----------
    difference : ndarray of shape (N,)
        ``M_i - M_L`` on i's references; NaN: not comparable yet (stays as it was).
    spread : ndarray of shape (N,)
        Standard error of each difference.
    confidence : float
        One-sided confidence of each elimination.
    alive : ndarray of shape (N,), bool
        Candidates in the race before this test.

    Returns
    -------
    ndarray of shape (N,), bool
    """
    alive = np.asarray(alive, dtype=bool)
    known = ~np.isnan(difference)
    below = known & (difference + norm.ppf(confidence) * spread < 0)
    back = known & (difference > 0)
    return np.where(alive, ~below, back)


def top_probabilities(replicates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """How often each model is the most central, and among the k most central.

    A tie decides nothing: a model is on top in a replicate only if no other model
    equals it, and in the top k only if fewer than k others reach its value (models that
    the metric cannot tell apart never stop the search).

    Parameters
    ----------
    replicates : ndarray of shape (B, N)
        NaN (no estimate) ranks last.
    k : int

    Returns
    -------
    p_top, p_in_top_k : ndarrays of shape (N,)
    """
    values = np.nan_to_num(replicates, nan=-np.inf)
    n_boot, n = values.shape
    ascending = np.sort(values, axis=1)
    reaching = np.stack(
        [n - np.searchsorted(row, value, side="left") for row, value in zip(ascending, values)]
    )
    # ``reaching`` counts the model itself.
    p_top = (reaching == 1).mean(axis=0)
    p_in_top_k = (reaching <= k).mean(axis=0)
    return p_top, p_in_top_k


@dataclass(frozen=True)
class AdaptiveUncertainty(CentralityUncertainty):
    """The adaptive search's replicates (NaN for eliminated models), whose p_top counts
    a tie as no win (see :func:`top_probabilities`)."""

    @property
    def p_top(self) -> np.ndarray:
        return top_probabilities(self.replicates, 1)[0]


@dataclass
class AdaptiveSearch(SearchStrategy):
    """Successive elimination of candidates for the top k; see the module docs.

    Parameters
    ----------
    top_k : int
        How many of the most central models to find (<= N).
    target : float
        Stop when each of the k leaders is in the top k with this bootstrap probability
        (for k = 1, the leader's p_top).
    max_pairs : int or None
        Budget of pair evaluations (a pair grown to more votes counts again); None: no
        budget.
    initial_references : int
        References per model in the first round.
    growth : float
        Factor (> 1) by which a survivor's references grow each round.
    pilot_votes : int
        Votes of a new pair (rounded up to whole vote blocks, at most the protocol's).
    confidence : float
        One-sided confidence of each elimination (a candidate is dropped when its paired
        difference to the k-th leader is below zero at this confidence).
    max_rounds : int
    scale_samples_per_vote : int
        S follows the votes at this ratio unless fixed (as in the precision search).
    """

    top_k: int = 1
    target: float = 0.95
    max_pairs: int | None = None
    initial_references: int = 4
    growth: float = 2.0
    pilot_votes: int = 100
    confidence: float = 0.95
    max_rounds: int = 30
    scale_samples_per_vote: int = 20
    min_bootstrap: ClassVar[int] = 200
    name: ClassVar[str] = "adaptive"

    def __post_init__(self) -> None:
        check_int("top_k", self.top_k, minimum=1)
        check_fraction("target", self.target)
        if self.max_pairs is not None:
            check_int("max_pairs", self.max_pairs, minimum=1)
        check_int("initial_references", self.initial_references, minimum=2)
        check_float("growth", self.growth, minimum=1, open_minimum=True)
        check_int("pilot_votes", self.pilot_votes, minimum=1)
        check_fraction("confidence", self.confidence)
        check_int("max_rounds", self.max_rounds, minimum=1)
        check_int("scale_samples_per_vote", self.scale_samples_per_vote, minimum=0)

    def search(self, evaluator, full_votes, n_boot):
        evaluator.check_resampling("the adaptive search")
        n = len(full_votes)
        k = self.top_k
        if k > n:
            raise ParameterError(f"top_k ({k}) must be <= the number of models ({n})")
        if n < 3:
            raise ParameterError(
                f"the adaptive search needs at least 3 models, got {n}: use the full search"
            )
        names = [m.name for m in evaluator.models]
        # The search runs on the name-sorted zoo, so nothing depends on the input order.
        perm = np.argsort(np.array(names, dtype=object), kind="stable")
        canonical = [names[p] for p in perm]
        run = _Run(self, evaluator, full_votes[np.ix_(perm, perm)], perm, canonical)
        outcome = run.go(max(n_boot, self.min_bootstrap))
        back = np.argsort(perm)
        outcome.votes = outcome.votes[np.ix_(back, back)]
        outcome.results = {(int(perm[a]), int(perm[b])): r for (a, b), r in outcome.results.items()}
        outcome.scores = outcome.scores[back]
        outcome.uncertainty = AdaptiveUncertainty(
            outcome.uncertainty.replicates[:, back], outcome.uncertainty.confidence
        )
        return outcome


class _Run:
    """State of one adaptive search, in name-sorted (canonical) index space."""

    def __init__(
        self,
        strategy: AdaptiveSearch,
        evaluator: PairEvaluator,
        full_votes: np.ndarray,
        perm: np.ndarray,
        names: list[str],
    ) -> None:
        self.s = strategy
        self.evaluator = evaluator
        self.full = full_votes
        self.perm = perm
        self.names = names
        self.n = len(names)
        self.seed = evaluator.seed
        self.order = reference_order(names, self.seed)
        self.pilot = np.minimum(
            round_up_to_block(np.full((self.n, self.n), strategy.pilot_votes)), full_votes
        )
        self.votes = np.zeros((self.n, self.n), dtype=np.int64)
        self.results: dict[tuple[int, int], Cell] = {}
        self.cell_variance: dict[tuple[int, int, int], float] = {}
        self.lengths = np.zeros(self.n, dtype=np.int64)
        self.alive = np.ones(self.n, dtype=bool)
        self.pair_evaluations = 0
        self.encoder_passes = 0
        self.history: list[dict[str, Any]] = []

    def go(self, n_boot: int) -> SearchOutcome:
        s = self.s
        budget = s.max_pairs if s.max_pairs is not None else math.inf
        state: dict[str, Any] | None = None
        for round_number in range(1, s.max_rounds + 1):
            pairs = self._plan(round_number, state)
            plan: dict[tuple[int, int], int] = {}
            for cells in pairs:
                if self.pair_evaluations + len(plan) + len(cells) > budget:
                    break
                plan.update(cells)
            if not plan:
                if state is None:
                    raise ParameterError(
                        f"max_pairs ({s.max_pairs}) is too small: no model could be "
                        f"compared with enough references to estimate its centrality"
                    )
                reason = (
                    f"budget of {s.max_pairs} pair evaluations spent"
                    if pairs
                    else "every survivor is compared with every model at the protocol's votes"
                )
                return self._finish(state, f"stopped short: {reason}", False, round_number - 1)
            self._evaluate(plan, round_number)
            # None until some model has enough references for an estimate.
            state = self._analyse(n_boot, round_number) or state
            if state is not None and state["reached"]:
                return self._finish(state, state["why"], True, round_number)
        if state is None:
            raise ParameterError(f"no centrality could be estimated in {s.max_rounds} rounds")
        return self._finish(state, f"stopped short: {s.max_rounds} rounds", False, s.max_rounds)

    def _plan(self, round_number: int, state: dict[str, Any] | None):
        """A round's requests as whole pairs (both cells of a similarity together): new
        references first, each to the most promising candidates first, so that a budget
        cut keeps what matters; then the grown votes."""
        candidates = np.flatnonzero(self.alive)
        if state is not None:
            estimate = np.nan_to_num(state["estimate"], nan=np.inf)
            candidates = candidates[np.argsort(-estimate[candidates], kind="stable")]
        # Each candidate grows its own prefix, so one brought back with few references
        # catches up step by step instead of jumping to the leaders' count.
        if round_number == 1:
            wanted = np.full(self.n, self.s.initial_references)
        else:
            wanted = np.maximum(np.ceil(self.lengths * self.s.growth), self.lengths + 1)
            wanted = np.maximum(wanted, self.s.initial_references)
        wanted = np.minimum(wanted, self.n).astype(np.int64)
        pairs: list[dict[tuple[int, int], int]] = []
        planned: set[tuple[int, int]] = set()
        for position, r in enumerate(self.order[: int(wanted[candidates].max(initial=0))]):
            for i in candidates[wanted[candidates] > position]:
                cells = {
                    cell: int(self.pilot[cell])
                    for cell in ((i, r), (r, i))
                    if i != r and not self.votes[cell] and cell not in planned
                }
                if cells:
                    planned.update(cells)
                    pairs.append(cells)
        for cells in state["grow"] if state is not None else ():
            cells = {cell: votes for cell, votes in cells.items() if cell not in planned}
            if cells:
                planned.update(cells)
                pairs.append(cells)
        return pairs

    def _evaluate(self, plan: dict[tuple[int, int], int], round_number: int) -> None:
        perm = self.perm
        requests = {(int(perm[a]), int(perm[b])): v for (a, b), v in plan.items()}
        found = self.evaluator.evaluate(requests, f"adaptive round {round_number}")
        for (a, b), votes in plan.items():
            self.results[a, b] = found[int(perm[a]), int(perm[b])]
            self.votes[a, b] = votes
            self.encoder_passes += self.evaluator.pair_cost(int(perm[a]), votes)
        self.pair_evaluations += len(plan)
        known = (self.votes > 0) & (self.votes.T > 0)
        # An eliminated candidate keeps the references it had.
        self.lengths = np.where(
            self.alive, prefix_lengths(known, self.order), self.lengths
        )

    def _vote_variance(self, a: int, b: int) -> float:
        """Bootstrap variance of one cell's score from its votes (computed once)."""
        key = (a, b, int(self.votes[a, b]))
        if key not in self.cell_variance:
            rng = keyed_rng(self.seed, "adaptive-votes", self.names[a], self.names[b], key[2])
            draws = bootstrap_cross({(0, 0): self.results[a, b]}, CELL_BOOTSTRAP, rng, n=1)
            self.cell_variance[key] = float(draws[:, 0, 0].var(ddof=1))
        return self.cell_variance[key]

    def _analyse(self, n_boot: int, round_number: int) -> dict[str, Any] | None:
        """A round's estimates, eliminations and certainty, and the votes to grow next;
        None until some candidate has an estimate."""
        cross = cross_matrix(self.results, self.n)
        similarity = (cross + cross.T) / 2
        estimate, reference = reference_means(
            similarity,
            self.order,
            self.lengths,
            n_boot,
            keyed_rng(self.seed, "adaptive-references", round_number),
        )
        leaders = self._leaders(estimate)
        if leaders is None:
            return None
        vote_variance = self._vote_noise()
        replicates = self._replicates(estimate, reference, vote_variance, n_boot, round_number)
        scores = self._eliminate(
            similarity, estimate, leaders[-1], vote_variance, n_boot, round_number
        )
        replicates[:, ~self.alive] = np.nan
        p_top, p_in_top_k = top_probabilities(replicates, self.s.top_k)
        certainty, reached, why = self._certainty(estimate, leaders, p_top, p_in_top_k)
        self.history.append(
            {
                "round": round_number,
                "leader_references": int(self.lengths[leaders[0]]),
                "survivors": int(self.alive.sum()),
                "pair_evaluations": self.pair_evaluations,
                "certainty": certainty,
            }
        )
        return {
            "estimate": scores,
            "replicates": replicates,
            "p_top": p_top,
            "p_in_top_k": p_in_top_k,
            "leaders": leaders,
            "certainty": certainty,
            "reached": reached,
            "why": why,
            "grow": self._growth(vote_variance, reference.var(axis=0, ddof=1)),
        }

    def _leaders(self, estimate: np.ndarray) -> np.ndarray | None:
        """The k best estimated candidates, best first (surviving ones while any has an
        estimate); None when no model has one."""
        candidates = np.flatnonzero(self.alive & ~np.isnan(estimate))
        if len(candidates) == 0:
            candidates = np.flatnonzero(~np.isnan(estimate))
        if len(candidates) == 0:
            return None
        return candidates[np.argsort(-estimate[candidates], kind="stable")[: self.s.top_k]]

    def _vote_noise(self) -> np.ndarray:
        """Variance of each model's estimate from the votes of its cells, shape (N,)."""
        vote_variance = np.zeros(self.n)
        # Each similarity averages two cells, each with its own votes.
        for i in range(self.n):
            refs = [r for r in self.order[: self.lengths[i]] if r != i]
            if refs:
                total = sum(self._vote_variance(i, r) + self._vote_variance(r, i) for r in refs)
                vote_variance[i] = total / 4 / len(refs) ** 2
        return vote_variance

    def _replicates(
        self,
        estimate: np.ndarray,
        reference: np.ndarray,
        vote_variance: np.ndarray,
        n_boot: int,
        round_number: int,
    ) -> np.ndarray:
        """Bootstrap replicates of the estimates, shape (n_boot, N): the sampling of
        references (``reference``, deviations) plus Gaussian vote noise."""
        noise = keyed_rng(self.seed, "adaptive-vote-noise", round_number).standard_normal(
            (n_boot, self.n)
        )
        return estimate + reference + noise * np.sqrt(vote_variance)

    def _eliminate(
        self,
        similarity: np.ndarray,
        estimate: np.ndarray,
        kth: int,
        vote_variance: np.ndarray,
        n_boot: int,
        round_number: int,
    ) -> np.ndarray:
        """Drop from ``alive`` the candidates below the k-th leader (``kth``) at the
        elimination confidence, and return every model's score, shape (N,)."""
        # Every model against the k-th leader, on the model's own references (paired).
        difference, deviations = reference_means(
            similarity - similarity[kth],
            self.order,
            self.lengths,
            n_boot,
            keyed_rng(self.seed, "adaptive-differences", round_number),
        )
        difference[kth] = 0.0
        spread = np.sqrt(
            deviations.var(axis=0, ddof=1) + vote_variance + vote_variance[kth]
        )
        self.alive = eliminate(difference, spread, self.s.confidence, self.alive)
        # Eliminated models are out (at the elimination confidence): they neither compete
        # for p_top nor get an interval, and their score is the k-th leader's plus their
        # paired difference to it, on the scale of the survivors' scores.
        return np.where(self.alive, estimate, estimate[kth] + difference)

    def _certainty(
        self,
        estimate: np.ndarray,
        leaders: np.ndarray,
        p_top: np.ndarray,
        p_in_top_k: np.ndarray,
    ) -> tuple[float, bool, str]:
        """How sure the round is of its leaders (the leader's p_top, or for k > 1 the
        lowest p_in_top_k of the leaders), whether that meets the target, and the line
        that says so."""
        k = self.s.top_k
        certainty = float(p_in_top_k[leaders].min()) if k > 1 else float(p_top[leaders[0]])
        # A candidate not compared with anything yet could still be the top.
        reached = certainty >= self.s.target and not np.isnan(estimate[self.alive]).any()
        measure = "leader's p_top" if k == 1 else f"lowest p_in_top_{k} of the leaders"
        return certainty, reached, f"{measure} {certainty:.3f} >= target {self.s.target:g}"

    def _growth(
        self, vote_variance: np.ndarray, reference_variance: np.ndarray
    ) -> list[dict[tuple[int, int], int]]:
        """The next round's grown votes, as whole pairs: twice the votes (at most the
        protocol's) for each survivor whose vote noise outweighs the sampling of its
        references."""
        grow = []
        for i in np.flatnonzero(self.alive & (vote_variance >= reference_variance)):
            for r in self.order[: self.lengths[i]]:
                cells = {}
                for cell in ((i, r), (r, i)):
                    more = min(int(round_up_to_block(2 * self.votes[cell])), int(self.full[cell]))
                    if r != i and more > self.votes[cell]:
                        cells[cell] = more
                if cells:
                    grow.append(cells)
        return grow

    def _finish(
        self, state: dict[str, Any], reason: str, reached: bool, rounds: int
    ) -> SearchOutcome:
        n = self.n
        if not reached:
            measure = "leader's p_top" if self.s.top_k == 1 else "leaders' certainty"
            reason += f"; {measure} {state['certainty']:.3f} < target {self.s.target:g}"
        full_passes = sum(
            self.evaluator.pair_cost(int(self.perm[i]), int(self.full[i, 0])) * n
            for i in range(n)
        )
        uncertainty = AdaptiveUncertainty(state["replicates"], 0.95)
        interval = uncertainty.scores_ci
        leaders = [int(i) for i in state["leaders"]]
        top = [
            {
                "name": self.names[i],
                "score": float(state["estimate"][i]),
                "interval": [float(interval[i, 0]), float(interval[i, 1])],
                "references": int(self.lengths[i] - (i in self.order[: self.lengths[i]])),
                "p_top": float(state["p_top"][i]),
                "p_in_top_k": float(state["p_in_top_k"][i]),
            }
            for i in leaders
        ]
        undecided = [self.names[i] for i in np.flatnonzero(self.alive) if i not in leaders]
        evaluated = sorted(
            [self.names[a], self.names[b], int(self.votes[a, b])] for a, b in self.results
        )
        details = {
            "top_k": top,
            "target": self.s.target,
            "undecided": undecided,
            "eliminated": int(n - self.alive.sum()),
            "elimination_confidence": self.s.confidence,
            "pair_evaluations": self.pair_evaluations,
            "full_pairs": n * n,
            "pair_fraction": self.pair_evaluations / (n * n),
            "encoder_passes_nominal": int(self.encoder_passes),
            "full_encoder_passes": int(full_passes),
            "encoder_fraction": self.encoder_passes / full_passes,
            "max_pairs": self.s.max_pairs,
            "history": self.history,
            "evaluated_pairs": evaluated,
        }
        return SearchOutcome(
            self.votes.copy(),
            dict(self.results),
            uncertainty,
            reason,
            reached,
            rounds,
            details,
            scores=state["estimate"],
        )

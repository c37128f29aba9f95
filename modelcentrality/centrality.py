"""ModelCentrality (SPEC section 4): rank a zoo by its medoid under FactorVAE similarity.

For N models, each model's vote groups and scale set are drawn once from its own
generator (:class:`~modelcentrality.traversal.GeneratedFactors`) and encoded by every
model's encoder. ``cross[i, j]`` is the FactorVAE score of encoder j on model i's
groups; the similarity is ``(cross + cross.T) / 2`` and a model's centrality is its mean
similarity to the others. The best-disentangled model is the most central one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import __version__
from .backends import Backend, LocalBackend
from .cache import PairCache
from .errors import ZooError
from .files import write_json
from .model import Model
from .progress import ProgressBar
from .scoring import VOTE_BLOCK, source_observation_count
from .traversal import GeneratedFactors
from .uncertainty import CentralityUncertainty, centrality_uncertainty
from .votes import Protocol, VoteResult, get_protocol
from .zoo import screen_models


@dataclass
class RankResult:
    """Outcome of :func:`rank`.

    Attributes
    ----------
    names : list of str, length N
        Model names in input order; every array below follows this order.
    scores : ndarray of shape (N,)
        Centrality M_i: mean similarity of model i to the other models.
    cross : ndarray of shape (N, N)
        ``cross[i, j]``: FactorVAE score of encoder j on model i's generated groups.
        The diagonal is each model's self-consistency (not used by the centrality).
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
        Training votes of source i behind ``cross[i, j]``.
    encoder_passes : int
        Observations encoded by this call (cached pairs cost nothing).
    precision : float or None
        The target standard error of the precision-targeted mode, if used.
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
    precision: float | None = None

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
        """Indices into ``names``, most central first (ties keep input order)."""
        return np.argsort(-self.scores, kind="stable")

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the CLI's output file)."""
        payload = {
            "names": list(self.names),
            "scores": self.scores.tolist(),
            "ranking": self.ranking,
            "self_consistency": self.self_consistency.tolist(),
            "cross": self.cross.tolist(),
            "similarity": self.similarity.tolist(),
            "revised_cross": self.revised_cross.tolist(),
            "protocol": self.protocol.to_dict(),
            "seed": self.seed,
            "skipped": dict(self.skipped),
            "version": __version__,
            "votes": None if self.votes is None else self.votes.tolist(),
            "encoder_passes": self.encoder_passes,
            "precision": self.precision,
        }
        if self.uncertainty is not None:
            payload["scores_ci"] = self.uncertainty.scores_ci.tolist()
            payload["p_top"] = self.uncertainty.p_top.tolist()
            payload["bootstrap"] = {
                "replicates": self.uncertainty.n_boot,
                "confidence": self.uncertainty.confidence,
            }
        return payload

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        write_json(path, self.to_dict())


def centrality_scores(cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetrised similarity and centrality from a cross matrix.

    Parameters
    ----------
    cross : ndarray of shape (N, N)

    Returns
    -------
    similarity : ndarray of shape (N, N)
    scores : ndarray of shape (N,)
        Mean of ``similarity[i, j]`` over j != i.
    """
    cross = np.asarray(cross, dtype=np.float64)
    n = cross.shape[0]
    if cross.shape != (n, n) or n < 2:
        raise ValueError(f"cross must be a square matrix of at least 2 models, got {cross.shape}")
    similarity = (cross + cross.T) / 2
    off_diagonal = similarity.sum(axis=1) - np.diag(similarity)
    return similarity, off_diagonal / (n - 1)


class _PairEvaluator:
    """Computes cross cells at given vote counts, once each, through cache and backend."""

    def __init__(self, models, protocol, seed, cache_dir, backend, progress, scale_per_vote):
        self.models = models
        self.protocol = protocol
        self.scale_per_vote = scale_per_vote
        self.seed = seed
        self.cache_dir = cache_dir
        self.backend = backend or LocalBackend()
        self.progress = progress
        self.memo: dict[tuple[int, int, int], VoteResult] = {}
        self.encoder_passes = 0

    def protocol_for(self, votes: int) -> Protocol:
        """The protocol at a given vote count; S follows the votes when scale_per_vote."""
        if not self.scale_per_vote:
            return self.protocol.with_overrides(votes=votes)
        scale = min(
            self.protocol.scale_samples, max(MIN_SCALE_SAMPLES, self.scale_per_vote * votes)
        )
        return self.protocol.with_overrides(votes=votes, scale_samples=scale)

    def evaluate(self, votes: np.ndarray, label: str) -> list[list[VoteResult]]:
        """Results for every pair (i, j) with ``votes[i, j]`` training votes of source i."""
        models, n = self.models, len(self.models)
        for count in np.unique(votes):
            protocol = self.protocol_for(int(count))
            cache = PairCache(self.cache_dir, protocol, self.seed) if self.cache_dir else None
            tasks = []
            for i in range(n):
                missing = []
                for j in np.flatnonzero(votes[i] == count):
                    key = (i, int(j), int(count))
                    if key in self.memo:
                        continue
                    cached = cache.load(models[i], models[j]) if cache else None
                    if cached is None:
                        missing.append(int(j))
                    else:
                        self.memo[key] = cached
                if missing:
                    tasks.append((i, missing))
            if not tasks:
                continue
            total = sum(
                source_observation_count(GeneratedFactors(models[i]), protocol) * len(js)
                for i, js in tasks
            )
            self.encoder_passes += total

            def finished(i: int, j: int, result: VoteResult, count=int(count), cache=cache):
                self.memo[(i, j, count)] = result
                if cache:
                    cache.store(models[i], models[j], result)

            with ProgressBar(total, label, enabled=self.progress) as bar:
                self.backend.run(models, tasks, protocol, self.seed, finished, bar.update)
        return [[self.memo[(i, j, int(votes[i, j]))] for j in range(n)] for i in range(n)]


#: In the precision-targeted mode, unless the caller fixes S, the scale set holds this
#: many observations per training vote (at least MIN_SCALE_SAMPLES, at most the
#: protocol's S): a std estimated from S samples is off by about 1/sqrt(2 S), which
#: stays well below the vote noise of M votes at this ratio.
SCALE_SAMPLES_PER_VOTE = 20
MIN_SCALE_SAMPLES = 2_000
#: Training votes per source in the precision-targeted mode's first round.
PILOT_VOTES = 100


def _round_up(votes: np.ndarray) -> np.ndarray:
    return (-(-votes // VOTE_BLOCK) * VOTE_BLOCK).astype(np.int64)


def _budget_votes(
    evaluator: _PairEvaluator,
    full: np.ndarray,
    precision: float,
    refine_top: bool,
    n_boot: int,
) -> tuple[np.ndarray, list[list[VoteResult]], CentralityUncertainty]:
    """Vote counts per pair that reach ``precision``, the results and their bootstrap.

    Round 1 gives every pair ``PILOT_VOTES``. While some centrality's bootstrap standard
    error exceeds ``precision``, every pair's votes grow by the factor that the 1/sqrt(M)
    law predicts for the worst model. Then, with ``refine_top``, pairs that involve a
    model whose interval overlaps the leader's double their votes until the leader's
    p_top reaches 0.95. Votes never exceed ``full`` (the protocol's own count), so the
    result can only approach, never exceed, the full protocol's cost.
    """
    n = len(full)
    votes = np.minimum(_round_up(np.full((n, n), PILOT_VOTES)), full)
    for round_number in range(1, 12):
        results = evaluator.evaluate(votes, f"round {round_number}")
        uncertainty = centrality_uncertainty(results, n_boot, random_state=evaluator.seed)
        worst = float(uncertainty.std.max())
        if worst > precision:
            grown = _round_up(np.ceil(votes * 1.1 * (worst / precision) ** 2).astype(np.int64))
            new_votes = np.minimum(grown, full)
        elif refine_top and uncertainty.p_top.max() < 0.95:
            estimate = np.array([[r.score for r in row] for row in results])
            leader = int(np.argmax(centrality_scores(estimate)[1]))
            low, high = uncertainty.scores_ci.T
            contenders = high >= low[leader]
            involved = contenders[:, None] | contenders[None, :]
            new_votes = np.where(involved, np.minimum(votes * 2, full), votes)
        else:
            return votes, results, uncertainty
        if np.array_equal(new_votes, votes):
            return votes, results, uncertainty
        votes = new_votes
    return votes, results, uncertainty


def rank(
    models: Sequence[Model],
    protocol: str | Protocol = "paper",
    random_state: int = 0,
    *,
    votes: int | None = None,
    group_size: int | None = None,
    scale_samples: int | None = None,
    precision: float | None = None,
    refine_top: bool = True,
    skip_bad: bool = False,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    backend: Backend | None = None,
    bootstrap: int = 200,
) -> RankResult:
    """Rank models by ModelCentrality.

    Parameters
    ----------
    models : sequence of Model
        At least 2 models with the same observation shape and unique names.
    protocol : {"paper", "disentanglement_lib"} or Protocol
        FactorVAE protocol (SPEC 3). "paper": 500 votes per GAN (1000 per VAE), L = 100,
        S = 73,728, round-robin factors, scored on the training votes.
    random_state : int
        Seed. Each model's generated sets are drawn from a generator keyed by this seed
        and the model's name, so they do not depend on the zoo's order or size.
    votes, group_size, scale_samples : int, optional
        Override the protocol's M, L and S. With ``precision``, ``votes`` caps the votes
        per pair, and S (unless given) grows with the votes: 20 per vote, from 2,000 up
        to the protocol's S.
    precision : float, optional
        Precision-targeted mode: choose votes per pair from the data so that every
        centrality's bootstrap standard error is at most this (e.g. 0.005). Votes are
        drawn in fixed blocks, so a pair with m votes uses exactly the first m votes of
        the full protocol's draw.
    refine_top : bool
        In precision-targeted mode, also spend more votes where they decide the top
        of the ranking (until the leader's p_top reaches 0.95 or votes are exhausted).
    skip_bad : bool
        Leave out models that fail the pre-flight checks (recorded in ``skipped``)
        instead of raising.
    cache_dir : path-like, optional
        Store each finished (source, encoder) pair here and reuse it on the next run:
        an interrupted run resumes, and adding a model computes only its new pairs.
    progress : bool or None
        Progress bar on stderr; None shows it only on a terminal.
    backend : Backend, optional
        Where the (source, encoders) tasks run; default :class:`LocalBackend`. It is
        entered (``with``) for the whole call, so a backend's workers or connection
        serve every round of the precision-targeted mode.
    bootstrap : int
        Bootstrap replicates for ``scores_ci`` (95%) and ``p_top``; 0 skips them. The
        precision-targeted mode bootstraps every round with at least 100 replicates and
        reports its last round's.

    Returns
    -------
    RankResult
    """
    if precision is not None and not precision > 0:
        raise ValueError(f"precision must be > 0, got {precision}")
    protocol = get_protocol(protocol).with_overrides(
        group_size=group_size, scale_samples=scale_samples
    )
    seed = int(random_state)
    models, skipped = screen_models(list(models), skip_bad=skip_bad)
    if len(models) < 2:
        raise ZooError(
            f"ModelCentrality needs at least 2 valid models, got {len(models)}"
            + (f" ({len(skipped)} skipped)" if skipped else "")
        )
    n = len(models)
    full = np.array([votes or protocol.train_votes_for(m.kind) for m in models])
    full = np.repeat(full[:, None], n, axis=1)
    scale_per_vote = SCALE_SAMPLES_PER_VOTE if precision is not None and not scale_samples else 0
    evaluator = _PairEvaluator(models, protocol, seed, cache_dir, backend, progress, scale_per_vote)
    with evaluator.backend:
        if precision is None:
            vote_counts = full
            results = evaluator.evaluate(vote_counts, "ranking")
            uncertainty = (
                centrality_uncertainty(results, bootstrap, random_state=seed)
                if bootstrap
                else None
            )
        else:
            # The last round's bootstrap already describes the final results.
            vote_counts, results, uncertainty = _budget_votes(
                evaluator, full, precision, refine_top, max(bootstrap, 100)
            )
            uncertainty = uncertainty if bootstrap else None

    cross = np.array([[r.score for r in row] for row in results])
    revised = np.array([[r.revised_score for r in row] for row in results])
    similarity, scores = centrality_scores(cross)
    uniform_votes = len(np.unique(vote_counts)) == 1
    return RankResult(
        names=[m.name for m in models],
        scores=scores,
        cross=cross,
        similarity=similarity,
        revised_cross=revised,
        protocol=evaluator.protocol_for(int(vote_counts[0, 0])) if uniform_votes else protocol,
        seed=seed,
        skipped=skipped,
        uncertainty=uncertainty,
        votes=vote_counts,
        encoder_passes=evaluator.encoder_passes,
        precision=precision,
    )

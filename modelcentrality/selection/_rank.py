"""ModelCentrality: rank a zoo by its medoid under FactorVAE similarity.

For N models, each model's vote groups and scale set are drawn once from its own
generator (:class:`~modelcentrality.engine.GeneratedFactors`) and encoded by every
model's encoder. ``cross[i, j]`` is the FactorVAE score of encoder j on model i's
groups; the similarity is ``(cross + cross.T) / 2`` and a model's centrality is its mean
similarity to the others. The best-disentangled model is the most central one. Which
pairs are evaluated, and at how many votes, is the search strategy's choice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .._validation import check_int
from ..contract._model import Model
from ..contract._screening import screen_models
from ..engine._centrality import centrality_scores, cross_matrix
from ..engine._votes import MAX_VOTES, Protocol, get_protocol
from ..errors import ModelCentralityError, ParameterError, ZooError
from ..execution._backends import Backend
from ._evaluator import SCALE_PER_VOTE, ModelsFailed, PairEvaluator
from ._result import RankResult
from ._search import SearchStrategy
from ._searches import make_search


def _check_enough(models: Sequence[Model], skipped: dict[str, str]) -> None:
    if len(models) < 2:
        raise ZooError(
            f"ModelCentrality needs at least 2 valid models, got {len(models)}"
            + (f" ({len(skipped)} skipped)" if skipped else ""),
            skipped,
        )


def rank(
    models: Sequence[Model],
    protocol: str | Protocol = "paper",
    random_state: int = 0,
    *,
    votes: int | None = None,
    group_size: int | None = None,
    scale_samples: int | None = None,
    scale_from_groups: bool = False,
    search: str | SearchStrategy | None = None,
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
        At least 2 models with the same observation shape and unique names. The
        ``skipped`` models of a :class:`~modelcentrality.io.Zoo` are carried into the
        result's ``skipped``.
    protocol : {"paper", "disentanglement_lib"} or Protocol
        FactorVAE protocol. "paper": 500 votes per GAN (1000 per VAE), L = 100,
        S = 73,728, round-robin factors, scored on the training votes.
    random_state : int
        Seed. Each model's generated sets are drawn from a generator keyed by this seed
        and the model's name, so they do not depend on the zoo's order or size.
    votes, group_size, scale_samples : int, optional
        Override the protocol's M, L and S. Unless ``scale_samples`` is given, S follows
        the votes whenever they are below the protocol's (``votes`` below the
        protocol's votes of every model, or a precision search): 20 observations per
        vote, at least 2,000, at most the protocol's S. So ``votes=50`` under "paper"
        uses S = 2,000, not 73,728, which would cost 15 times the votes themselves; the
        default protocol is unchanged. With a precision search, ``votes`` caps the
        votes per pair.
    scale_from_groups : bool
        Take each encoder's per-dim scale from the pooled observations of the vote
        groups instead of a separate scale set (no scale-set encoder passes: for a GAN
        pair under the paper protocol 73,728 of 123,728 passes). Not the paper's
        estimate, so off by default; docs/gpu.md reports how rankings move.
    search : str or SearchStrategy, optional
        Which pairs to evaluate: ``"full"`` (every pair at the protocol's votes),
        ``"precision"`` (needs ``precision``), ``"adaptive"`` (the most central model
        from a sample of pairs; :class:`~modelcentrality.selection.AdaptiveSearch` for
        its options), another registered name, or a strategy object. Default:
        ``"precision"`` when ``precision`` is given, else ``"full"``.
    precision : float, optional
        Precision-targeted search: choose votes per pair from the data so that every
        centrality's bootstrap standard error is at most this (e.g. 0.005). Votes are
        drawn in fixed blocks, so a pair with m votes uses exactly the first m votes of
        the full protocol's draw; every pair has the scale set of the vote cap.
    refine_top : bool
        In the precision search, also spend more votes where they decide the top of the
        ranking, until the leader's p_top reaches 0.95; when the leaders cannot be
        separated within a refinement budget (as many passes as the search spent
        before refining) the search stops and reports them in ``RankResult.tied``
        (see :class:`~modelcentrality.selection.PrecisionSearch`).
    skip_bad : bool
        Leave out models that fail the pre-flight checks, or fail later while their
        pairs run (recorded in ``skipped``), instead of raising. A model that fails
        mid-run loses all its pairs and the search starts again on the other models
        (reusing their finished pairs), so the result is the one of the good models
        ranked alone.
    cache_dir : path-like, optional
        Store each finished (source, encoder) pair here and reuse it on the next run:
        an interrupted run resumes, and adding a model computes only its new pairs.
    progress : bool or None
        Progress on stderr. None: a bar only on a terminal; True: also a plain line
        with done/total and an ETA every 15 s elsewhere (a log, a pipe, a notebook);
        False: none.
    backend : Backend, optional
        Where the (source, encoders) tasks run; default
        :class:`~modelcentrality.execution.LocalBackend`. It is entered (``with``) for
        the whole call, so a backend's workers or connection serve every round.
    bootstrap : int
        Bootstrap replicates for ``scores_ci`` (95%) and ``p_top``; 0 skips them. The
        bootstrap redoes every cell from its votes and scale set (see
        :func:`~modelcentrality.engine.centrality_uncertainty`), and the interval is for
        the centrality at unlimited votes. A
        precision search bootstraps every round with at least 100 replicates and
        reports its last round's.

    Returns
    -------
    RankResult
    """
    if search is None:
        search = "precision" if precision is not None else "full"
    if isinstance(search, str):
        # refine_top's default (True) is no request of its own.
        search = make_search(search, precision=precision, refine_top=None if refine_top else False)
    bootstrap = check_int("bootstrap", bootstrap, minimum=0)
    if bootstrap == 1:
        raise ParameterError("bootstrap must be 0 (none) or >= 2 replicates, got 1")
    if votes is not None:
        votes = check_int("votes", votes, minimum=1, maximum=MAX_VOTES)
    protocol = get_protocol(protocol).with_overrides(
        group_size=group_size,
        scale_samples=scale_samples,
        scale_from_groups=True if scale_from_groups else None,
    )
    seed = check_int("random_state", random_state, minimum=0)
    loader_skipped = dict(getattr(models, "skipped", {}))
    models, skipped = screen_models(list(models), skip_bad=skip_bad)
    skipped = {**loader_skipped, **skipped}
    _check_enough(models, skipped)
    scale_per_vote = 0 if scale_samples else search.scale_samples_per_vote
    if not scale_samples and votes is not None:
        if votes < min(protocol.train_votes_for(m.kind) for m in models):
            scale_per_vote = scale_per_vote or SCALE_PER_VOTE
    vote_cap = votes or max(protocol.train_votes_for(m.kind) for m in models)
    evaluator = PairEvaluator(
        models,
        protocol,
        seed,
        cache_dir=cache_dir,
        backend=backend,
        progress=progress,
        scale_per_vote=scale_per_vote,
        scale_votes=vote_cap if search.same_scale else None,
        skip_bad=skip_bad,
    )
    with evaluator:
        while True:
            n = len(models)
            full = np.array([votes or protocol.train_votes_for(m.kind) for m in models])
            full = np.repeat(full[:, None], n, axis=1)
            try:
                outcome = search.search(evaluator, full, bootstrap)
                break
            except ModelsFailed as exc:
                skipped.update(exc.failed)
                models = [m for m in models if m.name not in exc.failed]
                _check_enough(models, skipped)
                evaluator = evaluator.without(list(exc.failed))

    evaluated = outcome.votes > 0
    partial = not evaluated.all()
    cross = cross_matrix(outcome.results, n)
    similarity, scores = centrality_scores(cross, evaluated if partial else None)
    # A NaN centrality may only mean "not estimated" (a search that stopped before
    # reaching a model), never a non-finite cell.
    bad_sources = np.flatnonzero((evaluated & ~np.isfinite(cross)).any(axis=1))
    if len(bad_sources):
        names = [models[i].name for i in bad_sources]
        raise ModelCentralityError(f"non-finite cross cells for source model(s) {names}")
    if outcome.scores is not None:
        scores = outcome.scores
    used_votes = np.unique(outcome.votes[evaluated])
    scale = [evaluator.protocol_for(int(v)).scale_samples for v in used_votes]
    budget = {
        "votes_per_pair": [int(used_votes.min()), int(used_votes.max())],
        "scale_samples": [min(scale), max(scale)],
        "group_size": protocol.group_size,
        "protocol_votes": sorted({int(protocol.train_votes_for(m.kind)) for m in models}),
    }
    # Pairs at several vote counts share the scale set of the largest one.
    used_protocol = evaluator.protocol_for(int(used_votes[-1]))
    if len(used_votes) > 1:
        used_protocol = replace(used_protocol, votes=protocol.votes)
    return RankResult(
        names=[m.name for m in models],
        scores=scores,
        cross=cross,
        similarity=similarity,
        revised_cross=cross_matrix(outcome.results, n, "revised_score"),
        protocol=used_protocol,
        seed=seed,
        skipped=skipped,
        uncertainty=outcome.uncertainty if bootstrap else None,
        votes=outcome.votes,
        encoder_passes=evaluator.encoder_passes,
        encoder_passes_cached=evaluator.encoder_passes_cached,
        pairs_computed=evaluator.pair_evaluations,
        pairs_cached=evaluator.pairs_cached,
        precision=getattr(search, "precision", None),
        search=search.name,
        stop_reason=outcome.stop_reason,
        target_reached=outcome.target_reached,
        details=outcome.details,
        budget=budget,
        tied=[models[i].name for i in outcome.tied],
    )

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
from typing import Any

import numpy as np

from .._validation import check_int
from ..contract import Model, screen_models
from ..engine import MAX_VOTES, Protocol, centrality_scores, cross_matrix, get_protocol
from ..errors import ModelCentralityError, ParameterError, ZooError
from ..execution import Backend
from ._evaluator import SCALE_SAMPLES_PER_VOTE, ModelsFailed, PairEvaluator
from ._result import RankResult
from ._search import SearchOutcome, SearchStrategy
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
    search: str | SearchStrategy = "full",
    skip_bad: bool = False,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    backend: Backend | None = None,
    n_boot: int = 200,
    similarity: str | None = None,
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
    search : str or SearchStrategy
        Which pairs to evaluate: a strategy object, e.g.
        ``PrecisionSearch(precision=0.01)`` (votes per pair chosen from the data until
        every centrality's bootstrap standard error is at most 0.01, see
        :class:`~modelcentrality.selection.PrecisionSearch`) or
        ``AdaptiveSearch(top_k=5)`` (the most central models from a sample of pairs,
        see :class:`~modelcentrality.selection.AdaptiveSearch`), or the registered name
        of a strategy that needs no options: ``"full"`` (every pair at the protocol's
        votes, the default), ``"adaptive"``.
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
    n_boot : int
        Bootstrap replicates for ``scores_ci`` (95%) and ``p_top``; 0 skips them. The
        bootstrap redoes every cell from its votes and scale set (see
        :func:`~modelcentrality.engine.centrality_uncertainty`), and the interval is for
        the centrality at unlimited votes. A precision search bootstraps every round
        with at least 100 replicates and reports its last round's.
    similarity : str, optional
        The registered similarity of a cross cell (default: the protocol's,
        ``"factorvae"``). One whose cells cannot be resampled needs ``n_boot=0``
        and the full search (a ParameterError otherwise, before any pair runs).

    Returns
    -------
    RankResult

    Raises
    ------
    ParameterError
        For a search name whose strategy needs options (``search="precision"``: give
        ``PrecisionSearch(precision=...)``), or a parameter out of range.
    """
    search = _resolve_search(search)
    n_boot = check_int("n_boot", n_boot, minimum=0)
    if n_boot == 1:
        raise ParameterError("n_boot must be 0 (none) or >= 2 replicates, got 1")
    if votes is not None:
        votes = check_int("votes", votes, minimum=1, maximum=MAX_VOTES)
    protocol = _resolve_protocol(
        protocol, group_size, scale_samples, scale_from_groups, similarity
    )
    seed = check_int("random_state", random_state, minimum=0)
    loader_skipped = dict(getattr(models, "skipped", {}))
    models, skipped = screen_models(list(models), skip_bad=skip_bad)
    skipped = {**loader_skipped, **skipped}
    _check_enough(models, skipped)
    scale_samples_per_vote, vote_cap = _scale_budget(protocol, models, search, votes, scale_samples)
    evaluator = PairEvaluator(
        models,
        protocol,
        seed,
        cache_dir=cache_dir,
        backend=backend,
        progress=progress,
        scale_samples_per_vote=scale_samples_per_vote,
        scale_votes=vote_cap if search.same_scale else None,
        skip_bad=skip_bad,
    )
    with evaluator:
        outcome, evaluator = _search_with_restarts(
            search, evaluator, protocol, votes, n_boot, skipped
        )
    return _result(outcome, evaluator, protocol, search, skipped, n_boot)


def _resolve_search(search: str | SearchStrategy) -> SearchStrategy:
    """The strategy object for ``search`` (a name is built without options)."""
    return make_search(search) if isinstance(search, str) else search


def _resolve_protocol(
    protocol: str | Protocol,
    group_size: int | None,
    scale_samples: int | None,
    scale_from_groups: bool,
    similarity: str | None,
) -> Protocol:
    """The named (or given) protocol with the caller's L, S, scale estimate and
    similarity."""
    return get_protocol(protocol).with_overrides(
        group_size=group_size,
        scale_samples=scale_samples,
        scale_from_groups=True if scale_from_groups else None,
        similarity=similarity,
    )


def _scale_budget(
    protocol: Protocol,
    models: Sequence[Model],
    search: SearchStrategy,
    votes: int | None,
    scale_samples: int | None,
) -> tuple[int, int]:
    """Scale-set observations per vote (0: the protocol's S for every pair) and the vote
    cap: S follows the votes when the strategy asks for it or when ``votes`` is below
    every model's protocol votes, unless ``scale_samples`` fixes S."""
    scale_samples_per_vote = 0 if scale_samples else search.scale_samples_per_vote
    if not scale_samples and votes is not None:
        if votes < min(protocol.train_votes_for(m.kind) for m in models):
            scale_samples_per_vote = scale_samples_per_vote or SCALE_SAMPLES_PER_VOTE
    vote_cap = votes or max(protocol.train_votes_for(m.kind) for m in models)
    return scale_samples_per_vote, vote_cap


def _search_with_restarts(
    search: SearchStrategy,
    evaluator: PairEvaluator,
    protocol: Protocol,
    votes: int | None,
    n_boot: int,
    skipped: dict[str, str],
) -> tuple[SearchOutcome, PairEvaluator]:
    """Run ``search``; when models fail mid-run (``skip_bad``), record them in
    ``skipped`` and start again on the others, reusing their finished pairs. Returns
    the outcome and the evaluator of the models it ranks."""
    while True:
        models = evaluator.models
        full = np.array([votes or protocol.train_votes_for(m.kind) for m in models])
        full = np.repeat(full[:, None], len(models), axis=1)
        try:
            return search.search(evaluator, full, n_boot), evaluator
        except ModelsFailed as exc:
            skipped.update(exc.failed)
            _check_enough([m for m in models if m.name not in exc.failed], skipped)
            evaluator = evaluator.without(list(exc.failed))


def _result(
    outcome: SearchOutcome,
    evaluator: PairEvaluator,
    protocol: Protocol,
    search: SearchStrategy,
    skipped: dict[str, str],
    n_boot: int,
) -> RankResult:
    """The ranking of the evaluator's models from a search's outcome: centralities from
    the evaluated pairs (masked when some are missing) unless the strategy estimated
    its own, and the budget actually spent."""
    models = evaluator.models
    n = len(models)
    evaluated = outcome.votes > 0
    cross = cross_matrix(outcome.results, n)
    similarity, scores = centrality_scores(cross, None if evaluated.all() else evaluated)
    # A NaN centrality may only mean "not estimated" (a search that stopped before
    # reaching a model), never a non-finite cell.
    bad_sources = np.flatnonzero((evaluated & ~np.isfinite(cross)).any(axis=1))
    if len(bad_sources):
        names = [models[i].name for i in bad_sources]
        raise ModelCentralityError(f"non-finite cross cells for source model(s) {names}")
    if outcome.scores is not None:
        scores = outcome.scores
    used_protocol, budget = _budget(outcome, evaluator, protocol)
    return RankResult(
        names=[m.name for m in models],
        scores=scores,
        cross=cross,
        similarity=similarity,
        revised_cross=cross_matrix(outcome.results, n, "revised_score"),
        protocol=used_protocol,
        seed=evaluator.seed,
        skipped=skipped,
        uncertainty=outcome.uncertainty if n_boot else None,
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


def _budget(
    outcome: SearchOutcome, evaluator: PairEvaluator, protocol: Protocol
) -> tuple[Protocol, dict[str, Any]]:
    """The protocol the cells were computed with, and the budget record: votes per pair
    and S as [least, most] over the evaluated pairs, L, and the protocol's votes."""
    used_votes = np.unique(outcome.votes[outcome.votes > 0])
    scale = [evaluator.protocol_for(int(v)).scale_samples for v in used_votes]
    budget = {
        "votes_per_pair": [int(used_votes.min()), int(used_votes.max())],
        "scale_samples": [min(scale), max(scale)],
        "group_size": protocol.group_size,
        "protocol_votes": sorted(
            {int(protocol.train_votes_for(m.kind)) for m in evaluator.models}
        ),
    }
    # Pairs at several vote counts share the scale set of the largest one.
    used_protocol = evaluator.protocol_for(int(used_votes[-1]))
    if len(used_votes) > 1:
        used_protocol = replace(used_protocol, votes=protocol.votes)
    return used_protocol, budget

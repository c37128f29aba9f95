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

import numpy as np

from .._validation import check_int
from ..contract._model import Model
from ..contract._screening import screen_models
from ..engine._centrality import centrality_scores, cross_matrix
from ..engine._votes import Protocol, get_protocol
from ..errors import ZooError
from ..execution._backends import Backend
from ._evaluator import PairEvaluator
from ._result import RankResult
from ._search import SearchStrategy, make_search


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
        Override the protocol's M, L and S. With a precision search, ``votes`` caps the
        votes per pair, and S (unless given) grows with the votes: 20 per vote, from
        2,000 up to the protocol's S.
    scale_from_groups : bool
        Take each encoder's per-dim scale from the pooled observations of the vote
        groups instead of a separate scale set (no scale-set encoder passes: for a GAN
        pair under the paper protocol 73,728 of 123,728 passes). Not the paper's
        estimate, so off by default; docs/gpu.md reports how rankings move.
    search : str or SearchStrategy, optional
        Which pairs to evaluate: ``"full"`` (every pair at the protocol's votes),
        ``"precision"`` (needs ``precision``), another registered name, or a strategy
        object. Default: ``"precision"`` when ``precision`` is given, else ``"full"``.
    precision : float, optional
        Precision-targeted search: choose votes per pair from the data so that every
        centrality's bootstrap standard error is at most this (e.g. 0.005). Votes are
        drawn in fixed blocks, so a pair with m votes uses exactly the first m votes of
        the full protocol's draw.
    refine_top : bool
        In the precision search, also spend more votes where they decide the top of the
        ranking (until the leader's p_top reaches 0.95 or votes are exhausted).
    skip_bad : bool
        Leave out models that fail the pre-flight checks (recorded in ``skipped``)
        instead of raising.
    cache_dir : path-like, optional
        Store each finished (source, encoder) pair here and reuse it on the next run:
        an interrupted run resumes, and adding a model computes only its new pairs.
    progress : bool or None
        Progress bar on stderr; None shows it only on a terminal.
    backend : Backend, optional
        Where the (source, encoders) tasks run; default
        :class:`~modelcentrality.execution.LocalBackend`. It is entered (``with``) for
        the whole call, so a backend's workers or connection serve every round.
    bootstrap : int
        Bootstrap replicates for ``scores_ci`` (95%) and ``p_top``; 0 skips them. A
        precision search bootstraps every round with at least 100 replicates and
        reports its last round's.

    Returns
    -------
    RankResult
    """
    if search is None:
        search = "precision" if precision is not None else "full"
    if isinstance(search, str):
        search = make_search(search, precision=precision, refine_top=refine_top)
    bootstrap = check_int("bootstrap", bootstrap, minimum=0)
    protocol = get_protocol(protocol).with_overrides(
        group_size=group_size,
        scale_samples=scale_samples,
        scale_from_groups=True if scale_from_groups else None,
    )
    seed = int(random_state)
    loader_skipped = dict(getattr(models, "skipped", {}))
    models, skipped = screen_models(list(models), skip_bad=skip_bad)
    skipped = {**loader_skipped, **skipped}
    if len(models) < 2:
        raise ZooError(
            f"ModelCentrality needs at least 2 valid models, got {len(models)}"
            + (f" ({len(skipped)} skipped)" if skipped else "")
        )
    n = len(models)
    full = np.array([votes or protocol.train_votes_for(m.kind) for m in models])
    full = np.repeat(full[:, None], n, axis=1)
    evaluator = PairEvaluator(
        models,
        protocol,
        seed,
        cache_dir=cache_dir,
        backend=backend,
        progress=progress,
        scale_per_vote=0 if scale_samples else search.scale_samples_per_vote,
    )
    with evaluator:
        outcome = search.search(evaluator, full, bootstrap)

    evaluated = outcome.votes > 0
    partial = not evaluated.all()
    cross = cross_matrix(outcome.results, n)
    similarity, scores = centrality_scores(cross, evaluated if partial else None)
    used_votes = np.unique(outcome.votes[evaluated])
    return RankResult(
        names=[m.name for m in models],
        scores=scores,
        cross=cross,
        similarity=similarity,
        revised_cross=cross_matrix(outcome.results, n, "revised_score"),
        protocol=evaluator.protocol_for(int(used_votes[0])) if len(used_votes) == 1 else protocol,
        seed=seed,
        skipped=skipped,
        uncertainty=outcome.uncertainty if bootstrap else None,
        votes=outcome.votes,
        encoder_passes=evaluator.encoder_passes,
        precision=getattr(search, "precision", None),
        search=search.name,
        stop_reason=outcome.stop_reason,
        target_reached=outcome.target_reached,
        details=outcome.details,
    )

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
from .scoring import source_observation_count
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


def rank(
    models: Sequence[Model],
    protocol: str | Protocol = "paper",
    random_state: int = 0,
    *,
    votes: int | None = None,
    group_size: int | None = None,
    scale_samples: int | None = None,
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
        Override the protocol's M, L and S.
    skip_bad : bool
        Leave out models that fail the pre-flight checks (recorded in ``skipped``)
        instead of raising.
    cache_dir : path-like, optional
        Store each finished (source, encoder) pair here and reuse it on the next run:
        an interrupted run resumes, and adding a model computes only its new pairs.
    progress : bool or None
        Progress bar on stderr; None shows it only on a terminal.
    backend : Backend, optional
        Where the (source, encoders) tasks run; default :class:`LocalBackend`.
    bootstrap : int
        Bootstrap replicates for ``scores_ci`` (95%) and ``p_top``; 0 skips them.

    Returns
    -------
    RankResult
    """
    protocol = get_protocol(protocol).with_overrides(votes, group_size, scale_samples)
    seed = int(random_state)
    models, skipped = screen_models(list(models), skip_bad=skip_bad)
    if len(models) < 2:
        raise ZooError(
            f"ModelCentrality needs at least 2 valid models, got {len(models)}"
            + (f" ({len(skipped)} skipped)" if skipped else "")
        )
    n = len(models)
    cache = PairCache(cache_dir, protocol, seed) if cache_dir is not None else None
    results: list[list[VoteResult | None]] = [[None] * n for _ in range(n)]
    todo: list[list[int]] = []
    for i, source_model in enumerate(models):
        missing = []
        for j, encoder_model in enumerate(models):
            cached = cache.load(source_model, encoder_model) if cache else None
            if cached is None:
                missing.append(j)
            else:
                results[i][j] = cached
        todo.append(missing)

    total = sum(
        source_observation_count(GeneratedFactors(models[i]), protocol) * len(todo[i])
        for i in range(n)
    )

    def finished(i: int, j: int, result: VoteResult) -> None:
        results[i][j] = result
        if cache:
            cache.store(models[i], models[j], result)

    tasks = [(i, missing) for i, missing in enumerate(todo) if missing]
    with ProgressBar(total, "ranking", enabled=progress) as bar:
        (backend or LocalBackend()).run(models, tasks, protocol, seed, finished, bar.update)

    cross = np.array([[r.score for r in row] for row in results])
    revised = np.array([[r.revised_score for r in row] for row in results])
    similarity, scores = centrality_scores(cross)
    return RankResult(
        names=[m.name for m in models],
        scores=scores,
        cross=cross,
        similarity=similarity,
        revised_cross=revised,
        protocol=protocol,
        seed=seed,
        skipped=skipped,
        uncertainty=centrality_uncertainty(results, bootstrap, random_state=seed)
        if bootstrap
        else None,
    )

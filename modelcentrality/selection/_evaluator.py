"""The pair evaluator: every cross cell that any search asks for, computed once.

A *pair* ``(i, j)`` is the FactorVAE score of encoder j on model i's own traversals,
``cross[i, j]``, at a number of training votes. Searches ask for sparse sets of pairs
(``{(source, encoder): votes}``); the evaluator answers from its memory, then from the
on-disk cache, and sends only the rest to the backend, one task per source model (its
generated sets are rendered once and encoded by every requested encoder).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .._progress import ProgressBar
from ..contract._model import Model
from ..engine._scoring import source_observation_count
from ..engine._sources import GeneratedFactors
from ..engine._votes import Protocol, VoteResult
from ..execution._backends import Backend, LocalBackend
from ..execution._cache import PairCache

#: Unless S is fixed, a scale set that follows the votes holds at least this many
#: observations (see :class:`PairEvaluator`'s ``scale_per_vote``).
MIN_SCALE_SAMPLES = 2_000

#: Observations per training vote in a scale set that follows the votes.
SCALE_PER_VOTE = 20

#: ``{(source index, encoder index): training votes}``.
PairRequests = Mapping[tuple[int, int], int]


class PairEvaluator:
    """Computes requested cross cells through a cache and a backend.

    Parameters
    ----------
    models : sequence of Model
        The zoo; pairs are indices into it.
    protocol : Protocol
        The protocol at full votes; a request's vote count replaces its ``votes``.
    random_state : int
        Seed. A pair's draws depend only on it, the source model's name and the votes,
        so results do not depend on which other pairs are requested, or when.
    cache_dir : path-like, optional
        Finished pairs are stored there and reused by any later evaluator (any search).
    backend : Backend, optional
        Where source tasks run (default :class:`~modelcentrality.execution.LocalBackend`).
    progress : bool or None
        Progress bar on stderr; None: only on a terminal.
    scale_per_vote : int
        0: the scale set has the protocol's S at every vote count. Otherwise S follows
        the votes: ``scale_per_vote`` observations per vote, at least
        :data:`MIN_SCALE_SAMPLES`, at most the protocol's S.

    Attributes
    ----------
    encoder_passes : int
        Observations encoded so far (memory and cache hits cost nothing).
    pair_evaluations : int
        Pairs computed so far (not served from memory or cache).
    """

    def __init__(
        self,
        models: Sequence[Model],
        protocol: Protocol,
        random_state: int = 0,
        *,
        cache_dir: str | os.PathLike | None = None,
        backend: Backend | None = None,
        progress: bool | None = None,
        scale_per_vote: int = 0,
    ) -> None:
        self.models = list(models)
        self.protocol = protocol
        self.seed = int(random_state)
        self.cache_dir = cache_dir
        self.backend = backend or LocalBackend()
        self.progress = progress
        self.scale_per_vote = int(scale_per_vote)
        self._memo: dict[tuple[int, int, int], VoteResult] = {}
        self.encoder_passes = 0
        self.pair_evaluations = 0

    def __enter__(self) -> PairEvaluator:
        self.backend.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.backend.__exit__(*exc_info)

    def protocol_for(self, votes: int) -> Protocol:
        """The protocol of a pair with ``votes`` training votes."""
        if not self.scale_per_vote:
            return self.protocol.with_overrides(votes=votes)
        scale = max(MIN_SCALE_SAMPLES, self.scale_per_vote * votes)
        scale = min(self.protocol.scale_samples, scale)
        return self.protocol.with_overrides(votes=votes, scale_samples=scale)

    def pair_cost(self, source: int, votes: int) -> int:
        """Encoder passes of one pair of this source at ``votes`` votes."""
        return source_observation_count(
            GeneratedFactors(self.models[source]), self.protocol_for(votes)
        )

    def evaluate(
        self, requests: PairRequests, label: str = "pairs"
    ) -> dict[tuple[int, int], VoteResult]:
        """Results of exactly the requested pairs.

        Parameters
        ----------
        requests : mapping of (source, encoder) to votes
        label : str
            Shown on the progress bar.

        Returns
        -------
        dict of (source, encoder) to VoteResult
        """
        by_votes: dict[int, list[tuple[int, int]]] = {}
        for (i, j), votes in requests.items():
            by_votes.setdefault(int(votes), []).append((int(i), int(j)))
        for votes, pairs in sorted(by_votes.items()):
            self._compute(votes, pairs, label)
        return {(i, j): self._memo[i, j, int(v)] for (i, j), v in requests.items()}

    def _compute(self, votes: int, pairs: list[tuple[int, int]], label: str) -> None:
        models = self.models
        protocol = self.protocol_for(votes)
        cache = PairCache(self.cache_dir, protocol, self.seed) if self.cache_dir else None
        missing: dict[int, list[int]] = {}
        for i, j in sorted(pairs):
            if (i, j, votes) in self._memo:
                continue
            cached = cache.load(models[i], models[j]) if cache else None
            if cached is None:
                missing.setdefault(i, []).append(j)
            else:
                self._memo[i, j, votes] = cached
        if not missing:
            return
        tasks = list(missing.items())
        total = sum(self.pair_cost(i, votes) * len(js) for i, js in tasks)
        self.encoder_passes += total
        self.pair_evaluations += sum(len(js) for _, js in tasks)

        def finished(i: int, j: int, result: VoteResult) -> None:
            self._memo[i, j, votes] = result
            if cache:
                cache.store(models[i], models[j], result)

        with ProgressBar(total, label, enabled=self.progress) as bar:
            self.backend.run(models, tasks, protocol, self.seed, finished, bar.update)

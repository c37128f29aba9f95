"""The pair evaluator: every cross cell that any search asks for, computed once.

A *pair* ``(i, j)`` is the cell ``cross[i, j]`` of encoder j on model i under the
protocol's similarity (FactorVAE's: the score of the encoder on the model's own
traversals), at a number of training votes. Searches ask for sparse sets of pairs
(``{(source, encoder): votes}``); the evaluator answers from its memory, then from the
on-disk cache, and sends only the rest to the backend, one task per source model (its
generated sets are rendered once and encoded by every requested encoder).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .._progress import ProgressBar
from ..contract import Model
from ..engine import Cell, Protocol, get_similarity
from ..errors import ModelCentralityError, ModelError, ParameterError
from ..execution import Backend, LocalBackend, PairCache

#: Unless S is fixed, a scale set that follows the votes holds at least this many
#: observations (see :class:`PairEvaluator`'s ``scale_samples_per_vote``).
MIN_SCALE_SAMPLES = 2_000

#: Observations per training vote in a scale set that follows the votes.
SCALE_SAMPLES_PER_VOTE = 20

#: ``{(source index, encoder index): training votes}``.
PairRequests = Mapping[tuple[int, int], int]


class ModelsFailed(ModelCentralityError):
    """Models failed while their pairs ran (an evaluator with ``skip_bad``).

    Every requested pair that did not involve them was computed first. The caller
    drops them and asks again (see :meth:`PairEvaluator.without`).

    Attributes
    ----------
    failed : dict of str to str
        Model name -> one-line reason.
    """

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = dict(failed)
        reasons = "; ".join(f"'{name}': {why}" for name, why in self.failed.items())
        super().__init__(f"models failed during the run: {reasons}")

    def __reduce__(self):
        return (type(self), (self.failed,))


class PairEvaluator:
    """Computes requested cross cells through a cache and a backend.

    Parameters
    ----------
    models : sequence of Model
        The zoo; pairs are indices into it.
    protocol : Protocol
        The protocol at full votes; a request's vote count replaces its ``votes``. Its
        ``similarity`` names the registered similarity whose cells are computed.
    random_state : int
        Seed. A pair's draws depend only on it, the source model's name and the votes,
        so results do not depend on which other pairs are requested, or when.
    cache_dir : path-like, optional
        Finished pairs are stored there and reused by any later evaluator (any search).
    backend : Backend, optional
        Where source tasks run (default :class:`~modelcentrality.execution.LocalBackend`).
    progress : bool or None
        Progress bar on stderr; None: only on a terminal.
    scale_samples_per_vote : int
        0: the scale set has the protocol's S at every vote count. Otherwise S follows
        the votes: ``scale_samples_per_vote`` observations per vote, at least
        :data:`MIN_SCALE_SAMPLES`, at most the protocol's S.
    scale_votes : int, optional
        With ``scale_samples_per_vote``: S is the one of this many votes for every pair,
        whatever its own votes. A smaller scale set biases a score (its noise moves
        votes to other dims), so pairs that are compared need the same S.
    skip_bad : bool
        A model that fails while its pairs run (a ModelError naming it: NaN for some
        latents, an encoder that rejects other models' images...) does not stop the
        call: the other pairs are computed, then :meth:`evaluate` raises
        :class:`ModelsFailed` listing the failed models and why.

    Attributes
    ----------
    similarity : Similarity
        The protocol's similarity (an unknown name fails here, before any pair runs).
    encoder_passes : int
        Observations encoded so far (memory and cache hits cost nothing).
    pair_evaluations : int
        Pairs computed so far (not served from memory or cache).
    encoder_passes_cached : int
        Encoder passes that pairs served from the on-disk cache would have cost.
    pairs_cached : int
        Pairs served from the on-disk cache (each counted once: later requests are
        served from memory).
    failed : dict of str to str
        With ``skip_bad``: models that failed so far, name -> reason.
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
        scale_samples_per_vote: int = 0,
        scale_votes: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        self.models = list(models)
        self.protocol = protocol
        self.similarity = get_similarity(protocol.similarity)
        self.seed = int(random_state)
        self.cache_dir = cache_dir
        self.backend = backend or LocalBackend()
        self.progress = progress
        self.scale_samples_per_vote = int(scale_samples_per_vote)
        self.scale_votes = None if scale_votes is None else int(scale_votes)
        self.skip_bad = bool(skip_bad)
        # Keyed by model names, so that an evaluator over fewer models shares it.
        self._memo: dict[tuple[str, str, int], Cell] = {}
        self.encoder_passes = 0
        self.pair_evaluations = 0
        self.encoder_passes_cached = 0
        self.pairs_cached = 0
        self.failed: dict[str, str] = {}

    def without(self, names: Sequence[str]) -> PairEvaluator:
        """An evaluator over the other models that shares this one's finished pairs,
        backend and counters (pairs keep their draws: they depend on names only)."""
        dropped = set(names)
        other = PairEvaluator(
            [model for model in self.models if model.name not in dropped],
            self.protocol,
            self.seed,
            cache_dir=self.cache_dir,
            backend=self.backend,
            progress=self.progress,
            scale_samples_per_vote=self.scale_samples_per_vote,
            scale_votes=self.scale_votes,
            skip_bad=self.skip_bad,
        )
        other._memo = self._memo
        other.encoder_passes = self.encoder_passes
        other.pair_evaluations = self.pair_evaluations
        other.encoder_passes_cached = self.encoder_passes_cached
        other.pairs_cached = self.pairs_cached
        other.failed = {k: v for k, v in self.failed.items() if k not in dropped}
        return other

    def __enter__(self) -> PairEvaluator:
        self.backend.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.backend.__exit__(*exc_info)

    def protocol_for(self, votes: int) -> Protocol:
        """The protocol of a pair with ``votes`` training votes."""
        if not self.scale_samples_per_vote:
            return self.protocol.with_overrides(votes=votes)
        scale = max(MIN_SCALE_SAMPLES, self.scale_samples_per_vote * (self.scale_votes or votes))
        scale = min(self.protocol.scale_samples, scale)
        return self.protocol.with_overrides(votes=votes, scale_samples=scale)

    def check_resampling(self, needed_by: str) -> None:
        """Refuse, before any pair runs, a similarity whose cells cannot be resampled.

        Raises
        ------
        ParameterError
            Naming the similarity and ``needed_by`` (what needs the resampling).
        """
        if not self.similarity.can_resample:
            raise ParameterError(
                f"similarity {self.similarity.name!r} cannot be resampled (its "
                f"{self.similarity.cell_type.__name__} cells have no bootstrap) for "
                f"{needed_by}: use n_boot=0 (--n-boot 0) and the full search"
            )

    def is_known(self, i: int, j: int, votes: int) -> bool:
        """Whether a pair at ``votes`` is already computed (a request costs nothing)."""
        return self._key(i, j, votes) in self._memo

    def pair_cost(self, source: int, votes: int) -> int:
        """Encoder passes of one pair of this source at ``votes`` votes."""
        protocol = self.protocol_for(votes)
        return self.similarity.cost(self.models[source], protocol)

    def evaluate(
        self, requests: PairRequests, label: str = "pairs"
    ) -> dict[tuple[int, int], Cell]:
        """Results of exactly the requested pairs.

        Parameters
        ----------
        requests : mapping of (source, encoder) to votes
        label : str
            Names this call's work on the progress lines (one bar per call, so a
            round's pairs at several vote counts share one label, one count and one
            estimate).

        Returns
        -------
        dict of (source, encoder) to Cell

        Raises
        ------
        ModelsFailed
            With ``skip_bad``, when some models failed (after every other pair ran).
        """
        by_votes: dict[int, list[tuple[int, int]]] = {}
        for (i, j), votes in requests.items():
            by_votes.setdefault(int(votes), []).append((int(i), int(j)))
        # One cache per vote count and call, for both the look-up and the stores.
        caches = {votes: self._cache(votes) for votes in sorted(by_votes)}
        missing = {
            votes: self._lookup(votes, pairs, caches[votes])
            for votes, pairs in sorted(by_votes.items())
        }
        missing = {votes: tasks for votes, tasks in missing.items() if tasks}
        if missing:
            self._compute(missing, label, caches)
        if self.failed:
            raise ModelsFailed(self.failed)
        return {(i, j): self._memo[self._key(i, j, v)] for (i, j), v in requests.items()}

    def _key(self, i: int, j: int, votes: int) -> tuple[str, str, int]:
        return self.models[i].name, self.models[j].name, int(votes)

    def _lookup(
        self, votes: int, pairs: list[tuple[int, int]], cache: PairCache | None
    ) -> list[tuple[int, list[int]]]:
        """Serve pairs from memory, then from the cache; return the rest as tasks."""
        models = self.models
        missing: dict[int, list[int]] = {}
        for i, j in sorted(pairs):
            if self._key(i, j, votes) in self._memo or self._involves_failed(i, j):
                continue
            cached = cache.load(models[i], models[j]) if cache else None
            if cached is None:
                missing.setdefault(i, []).append(j)
            else:
                self._memo[self._key(i, j, votes)] = cached
                self.encoder_passes_cached += self.pair_cost(i, votes)
                self.pairs_cached += 1
        return list(missing.items())

    def _cache(self, votes: int) -> PairCache | None:
        if not self.cache_dir:
            return None
        return PairCache(self.cache_dir, self.protocol_for(votes), self.seed)

    def _compute(
        self,
        missing: dict[int, list[tuple[int, list[int]]]],
        label: str,
        caches: dict[int, PairCache | None],
    ) -> None:
        costs = {
            votes: sum(self.pair_cost(i, votes) * len(js) for i, js in tasks)
            for votes, tasks in missing.items()
        }
        total = sum(costs.values())
        # The estimate comes when the first source task ends (see _run), not after the
        # bar's first seconds: a task renders its source's observations before it
        # encodes them, so the encoding rate alone would leave the rendering out.
        bar = ProgressBar(total, label, enabled=self.progress, unit="encoder passes", probe=0)
        with bar:
            plan = "; ".join(
                f"{sum(len(js) for _, js in tasks)} pairs at {votes} votes "
                f"(S = {self.protocol_for(votes).scale_samples:,})"
                for votes, tasks in missing.items()
            )
            bar.note(f"computing {plan}: {total:,} encoder passes")
            for votes, tasks in missing.items():
                self.encoder_passes += costs[votes]
                self.pair_evaluations += sum(len(js) for _, js in tasks)
                self._run(votes, tasks, bar, caches[votes])

    def _run(
        self,
        votes: int,
        tasks: list[tuple[int, list[int]]],
        bar: ProgressBar,
        cache: PairCache | None,
    ) -> None:
        models = self.models
        protocol = self.protocol_for(votes)

        left = {i: len(js) for i, js in tasks}
        task_cost = {i: self.pair_cost(i, votes) * len(js) for i, js in tasks}
        # The probe: the first source tasks carry one-time costs (each encoder's first
        # calls), so the rate comes from the next ones, one per worker (they run side by
        # side), timed from the end of the first; with too few tasks, from the first.
        workers = max(1, getattr(self.backend, "n_jobs", None) or 1)
        warm = workers if len(tasks) > 2 * workers else 0
        probe = min(len(tasks), warm + workers)
        ended: list[int] = []
        bar_start = bar.done
        since: list[tuple[float, int]] = []

        cell_type = self.similarity.cell_type

        def finished(i: int, j: int, result: Cell) -> None:
            if not isinstance(result, cell_type):
                raise ModelCentralityError(
                    f"similarity {self.similarity.name!r} returned a "
                    f"{type(result).__name__} cell, not its cell type {cell_type.__name__}"
                )
            self._memo[self._key(i, j, votes)] = result
            if cache:
                cache.store(models[i], models[j], result)
            left[i] -= 1
            if not left[i]:
                ended.append(task_cost[i])
                if warm and len(ended) == warm:
                    since.append((time.monotonic(), bar_start + sum(ended)))
                if len(ended) == probe:
                    bar.estimate_now(done=bar_start + sum(ended), since=since[0] if since else None)

        names = {model.name for model in models}
        while tasks:
            try:
                self.backend.run(models, tasks, protocol, self.seed, finished, bar.update)
                return
            except ModelError as exc:
                if not self.skip_bad or exc.model not in names or exc.model in self.failed:
                    raise
                self.failed[exc.model] = exc.problem
            # The other tasks, less the failed models' pairs and the finished ones.
            tasks = [
                (i, [j for j in js if not self._involves_failed(i, j)
                     and self._key(i, j, votes) not in self._memo])
                for i, js in tasks
            ]
            tasks = [(i, js) for i, js in tasks if js]

    def _involves_failed(self, i: int, j: int) -> bool:
        return self.models[i].name in self.failed or self.models[j].name in self.failed

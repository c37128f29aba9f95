"""Where ModelCentrality's cross-evaluation runs.

The unit of work is a *source task*: one model's generated sets, encoded by a list of
encoders (one row of the cross matrix, or the part of it that is not cached yet).
Results are reported pair by pair through a callback as soon as a task finishes, so
the caller can checkpoint them. Every backend gives identical results for a seed,
because each source's draws depend only on the seed and the source model's name.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from .errors import ModelCentralityError
from .model import Model
from .model_transport import check_shippable, model_spec, open_models
from .scoring import factorvae_votes, source_observation_count
from .seeding import keyed_rng
from .traversal import GeneratedFactors
from .votes import Protocol, VoteResult

#: (source index, encoder indices) into the model list.
SourceTask = tuple[int, list[int]]
PairCallback = Callable[[int, int, VoteResult], None]


def evaluate_source(
    source: Model,
    encoders: Sequence[Model],
    protocol: Protocol,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[VoteResult]:
    """FactorVAE results of ``encoders`` on ``source``'s own traversals.

    Returns
    -------
    list of VoteResult, one per encoder: the cells ``cross[source, encoder]``.
    """
    return factorvae_votes(
        GeneratedFactors(source),
        [model.encode for model in encoders],
        protocol,
        keyed_rng(seed, source.name),
        progress,
    )


class Backend(ABC):
    """Runs source tasks and reports each finished pair.

    A backend is also a context manager, for those that hold resources (a cluster
    connection) across several :meth:`run` calls; the default holds none.
    """

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @abstractmethod
    def run(
        self,
        models: Sequence[Model],
        tasks: Sequence[SourceTask],
        protocol: Protocol,
        seed: int,
        on_pair: PairCallback,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Evaluate every task; call ``on_pair(i, j, result)`` for each finished pair."""


class LocalBackend(Backend):
    """Runs tasks one after another in this process.

    Works with any :class:`~modelcentrality.model.Model`. Encoder calls use ONNX
    Runtime's intra-op threads, but generating the sets and counting the votes run on
    one core; :class:`ProcessBackend` keeps every core busy.
    """

    def run(self, models, tasks, protocol, seed, on_pair, progress=None) -> None:
        for i, encoder_indices in tasks:
            encoders = [models[j] for j in encoder_indices]
            results = evaluate_source(models[i], encoders, protocol, seed, progress)
            for j, result in zip(encoder_indices, results):
                on_pair(i, j, result)


def default_jobs() -> int:
    """Worker processes for this machine: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_worker_specs: dict[int, dict[str, Any]] = {}
_worker_threads = 1


def _init_worker(specs: dict[int, dict[str, Any]], threads: int) -> None:
    global _worker_threads
    _worker_specs.clear()
    _worker_specs.update(specs)
    _worker_threads = threads


def _worker_task(source: int, encoders: list[int], protocol: Protocol, seed: int):
    specs = {index: _worker_specs[index] for index in (source, *encoders)}
    models = open_models(specs, _worker_threads)
    return evaluate_source(models[source], [models[j] for j in encoders], protocol, seed)


class ProcessBackend(Backend):
    """Runs source tasks side by side in worker processes on this machine.

    Each worker opens the ONNX models from their files (or from bytes, for models built
    in memory) once and keeps them open for its later tasks. Results are identical to
    :class:`LocalBackend`'s for a seed.

    Parameters
    ----------
    jobs : int, optional
        Worker processes (default: the CPUs available, :func:`default_jobs`).
    threads : int, optional
        ONNX Runtime intra-op threads per worker (default: CPUs // jobs, at least 1), so
        that jobs x threads matches the cores instead of oversubscribing them.

    Notes
    -----
    Only :class:`~modelcentrality.adapters.onnx_runtime.OnnxModel` models can be sent
    to workers. Workers are started with ``spawn`` (safe with ONNX Runtime's threads).
    Outside a ``with`` block they live for one :meth:`run` call; inside one (and during
    :func:`~modelcentrality.rank`, which enters its backend) they stay up, with their
    open models, across calls on the same models, such as the rounds of the
    precision-targeted mode.
    """

    def __init__(self, jobs: int | None = None, threads: int | None = None) -> None:
        jobs = default_jobs() if jobs is None else int(jobs)
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.jobs = jobs
        self.threads = max(1, default_jobs() // jobs) if threads is None else int(threads)
        self._depth = 0
        self._pool: ProcessPoolExecutor | None = None
        self._pool_specs: dict[int, dict[str, Any]] | None = None

    def __enter__(self) -> ProcessBackend:
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth = max(0, self._depth - 1)
        if self._depth == 0:
            self._close()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._pool_specs = None

    def _pool_for(self, specs: dict[int, dict[str, Any]], tasks: int) -> ProcessPoolExecutor:
        """The held pool when it serves these models, else a new one."""
        if self._pool is not None and self._pool_specs == specs:
            return self._pool
        self._close()
        # A held pool may serve bigger calls later, so it gets every worker at once.
        workers = self.jobs if self._depth else min(self.jobs, tasks)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(specs, self.threads),
        )
        self._pool_specs = specs
        return self._pool

    def run(self, models, tasks, protocol, seed, on_pair, progress=None) -> None:
        if not tasks:
            return
        # Every model, not only this call's, so that later calls on the same models
        # find their specs in the held pool's workers.
        specs = {}
        for index, model in enumerate(models):
            load = "bytes" if getattr(model, "encoder_path", None) is None else "path"
            check_shippable(model, load, "the process backend")
            specs[index] = model_spec(model, load)
        pool = self._pool_for(specs, len(tasks))
        # Longest tasks first, so that no worker is left with a long one at the end.
        order = sorted(tasks, key=lambda task: -len(task[1]))
        pending: dict[Future, SourceTask] = {}
        failed = True
        try:
            for i, encoders in order:
                future = pool.submit(_worker_task, i, list(encoders), protocol, seed)
                pending[future] = (i, list(encoders))
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i, encoders = pending.pop(future)
                    try:
                        results = future.result()
                    except BrokenProcessPool:
                        raise ModelCentralityError(
                            f"a worker process died while evaluating source model "
                            f"'{models[i].name}' (out of memory?); finished pairs are kept"
                        ) from None
                    for j, result in zip(encoders, results):
                        on_pair(i, j, result)
                    report_progress(progress, models[i], protocol, len(encoders))
            failed = False
        finally:
            # After a failure the workers may still be busy or broken: never reuse them.
            if failed or not self._depth:
                self._close()


def report_progress(
    progress: Callable[[int], None] | None, source: Model, protocol: Protocol, encoders: int
) -> None:
    """Advance ``progress`` by the encoder passes of one finished source task."""
    if progress is not None:
        progress(source_observation_count(GeneratedFactors(source), protocol) * encoders)

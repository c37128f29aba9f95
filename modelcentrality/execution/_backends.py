"""Where ModelCentrality's cross-evaluation runs.

The unit of work is a *source task*: one model's generated sets, encoded by a list of
encoders (one row of the cross matrix, or the part of it that is not cached yet).
Results are reported pair by pair through a callback as soon as a task finishes, so
the caller can checkpoint them. Every backend gives identical results for a seed,
because each source's draws depend only on the seed and the source model's name.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from .._seeding import keyed_rng
from .._validation import check_int
from ..contract._model import Model
from ..engine._similarities import get_similarity
from ..engine._votes import Protocol, VoteResult
from ..errors import ModelCentralityError, ParameterError
from ._transport import model_spec, open_models

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
    """The cells ``cross[source, encoder]`` of every encoder, under the protocol's
    similarity (:mod:`~modelcentrality.engine`), with draws keyed by the seed and the
    source model's name.

    Returns
    -------
    list of VoteResult, one per encoder.
    """
    similarity = get_similarity(protocol.similarity)
    return similarity.cells(source, encoders, protocol, keyed_rng(seed, source.name), progress)


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

    Works with any :class:`~modelcentrality.contract.Model`. Encoder calls use ONNX
    Runtime's intra-op threads, but generating the sets and counting the votes run on
    one core; :class:`ProcessBackend` keeps every core busy.
    """

    def run(self, models, tasks, protocol, seed, on_pair, progress=None) -> None:
        for i, encoder_indices in tasks:
            encoders = [models[j] for j in encoder_indices]
            results = evaluate_source(models[i], encoders, protocol, seed, progress)
            for j, result in zip(encoder_indices, results):
                on_pair(i, j, result)


def default_n_jobs() -> int:
    """Worker processes for this machine: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_worker_specs: dict[int, dict[str, Any]] = {}
_worker_threads = 1
#: Seconds between a worker's checks that its parent is still alive.
PARENT_CHECK_INTERVAL = 0.5


def _exit_with_parent(parent: int) -> None:
    # A parent killed by SIGKILL or SIGTERM cannot shut its pool down: without this, its
    # workers (each holding every model open) would wait for tasks forever.
    while True:
        time.sleep(PARENT_CHECK_INTERVAL)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(specs: dict[int, dict[str, Any]], threads: int) -> None:
    global _worker_threads
    # Ctrl-C reaches the whole process group: the parent handles it and ends the
    # workers, which would otherwise each print a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _worker_specs.clear()
    _worker_specs.update(specs)
    _worker_threads = threads


def _worker_task(source: int, encoders: list[int], protocol: Protocol, seed: int):
    specs = {index: _worker_specs[index] for index in (source, *encoders)}
    models = open_models(specs, _worker_threads)
    return evaluate_source(models[source], [models[j] for j in encoders], protocol, seed)


class ProcessBackend(Backend):
    """Runs source tasks side by side in worker processes on this machine.

    Each worker opens the models (ONNX files by path, or any registered adapter's
    spec, e.g. in-memory PyTorch modules) once and keeps them open for its later tasks.
    Results are identical to :class:`LocalBackend`'s for a seed.

    Parameters
    ----------
    n_jobs : int, optional
        Worker processes (default: the CPUs available, :func:`default_n_jobs`).
    threads : int, optional
        Runtime intra-op threads per worker (default: CPUs // n_jobs, at least 1), so
        that n_jobs x threads matches the cores instead of oversubscribing them.

    Notes
    -----
    Models travel through :func:`~modelcentrality.execution.model_spec`; workers are
    started with ``spawn`` (safe with ONNX Runtime's threads).
    Outside a ``with`` block they live for one :meth:`run` call; inside one (and during
    :func:`~modelcentrality.rank`, which enters its backend) they stay up, with their
    open models, across calls on the same models, such as the rounds of the
    precision-targeted mode.
    """

    def __init__(self, n_jobs: int | None = None, threads: int | None = None) -> None:
        n_jobs = default_n_jobs() if n_jobs is None else check_int("n_jobs", n_jobs, minimum=1)
        if threads is not None:
            threads = check_int("threads", threads, minimum=1)
        self.n_jobs = n_jobs
        self.threads = max(1, default_n_jobs() // n_jobs) if threads is None else threads
        self._depth = 0
        self._pool: ProcessPoolExecutor | None = None
        self._pool_keys: dict[int, str] | None = None
        # Specs by (model identity, fingerprint): a model's spec is built once per
        # backend, not once per call (a TorchModel's spec copies its modules).
        self._specs: dict[tuple[int, str | None], tuple[Model, dict[str, Any]]] = {}

    def __enter__(self) -> ProcessBackend:
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth = max(0, self._depth - 1)
        if self._depth == 0:
            self._close()
            self._specs.clear()

    def _spec(self, model: Model) -> dict[str, Any]:
        try:
            key = (id(model), model.fingerprint())
        except OSError:  # its files are gone: the worker reports that, naming the model
            return model_spec(model, backend="the process backend")
        if key not in self._specs:
            # The model is kept with its spec, so that its id is not reused meanwhile.
            self._specs[key] = (model, model_spec(model, backend="the process backend"))
        return self._specs[key][1]

    def _close(self, terminate: bool = False) -> None:
        """Shut the pool down; ``terminate``: end running tasks now instead of waiting."""
        if self._pool is not None:
            if terminate:
                # The executor has no public way to stop running tasks before Python 3.14.
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._pool_keys = None

    def _pool_for(self, specs: dict[int, dict[str, Any]], tasks: int) -> ProcessPoolExecutor:
        """The held pool when it serves these models, else a new one."""
        keys = {index: spec["key"] for index, spec in specs.items()}
        if self._pool is not None and self._pool_keys == keys:
            return self._pool
        self._close()
        # A held pool may serve bigger calls later, so it gets every worker at once.
        workers = self.n_jobs if self._depth else min(self.n_jobs, tasks)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(specs, self.threads),
        )
        self._pool_keys = keys
        return self._pool

    def run(self, models, tasks, protocol, seed, on_pair, progress=None) -> None:
        if not tasks:
            return
        # Every model, not only this call's, so that later calls on the same models
        # find their specs in the held pool's workers.
        specs = {index: self._spec(model) for index, model in enumerate(models)}
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
            # After a failure (or Ctrl-C) the workers may still be busy or broken: never
            # reuse them, and do not wait for tasks whose results nobody will read.
            if failed or not self._depth:
                self._close(terminate=failed)
            if not self._depth:
                self._specs.clear()


def report_progress(
    progress: Callable[[int], None] | None, source: Model, protocol: Protocol, encoders: int
) -> None:
    """Advance ``progress`` by the encoder passes of one finished source task."""
    if progress is not None:
        progress(get_similarity(protocol.similarity).cost(source, protocol) * encoders)


#: Backend names of :func:`make_backend`.
BACKENDS = ("local", "ray")


def make_backend(
    backend: str = "local",
    *,
    n_jobs: int = 1,
    threads: int | None = None,
    address: str | None = None,
    ray_load: str | None = None,
) -> Backend:
    """The backend a user asked for by name (what ``rank --backend/--jobs`` builds).

    Parameters
    ----------
    backend : {"local", "ray"}
    n_jobs : int
        Local backend: worker processes (0: one per CPU; 1: this process).
    threads : int, optional
        Threads per worker (local) or CPUs per task (Ray).
    address, ray_load : str, optional
        Ray only: the cluster to join and how workers get the models ("path"/"bytes").

    Raises
    ------
    ParameterError
        For options that do not fit the backend.
    """
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend == "ray":
        from ._ray import RayBackend

        if n_jobs != 1:
            raise ParameterError("--jobs is for the local backend; Ray sizes itself")
        return RayBackend(address, load=ray_load or "path", cpus_per_task=threads or 1)
    if address is not None or ray_load is not None:
        raise ParameterError("--address and --ray-load need --backend ray")
    n_jobs = check_int("n_jobs", n_jobs, minimum=0)
    if n_jobs == 1:
        return LocalBackend()
    return ProcessBackend(n_jobs or None, threads)

"""Where ModelCentrality's cross-evaluation runs.

The unit of work is a *source task*: one model's generated sets, encoded by a list of
encoders (one row of the cross matrix, or the part of it that is not cached yet).
Results are reported pair by pair through a callback as soon as a task finishes, so
the caller can checkpoint them. Every backend gives identical results for a seed,
because each source's draws depend only on the seed and the source model's name.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, ClassVar

from .._registry import Plugins, Registry, load_plugins
from .._seeding import keyed_rng
from .._validation import check_int
from ..contract import Model
from ..engine import Cell, Protocol, get_similarity
from ..errors import ModelCentralityError, ParameterError
from ._transport import model_spec, open_models, worker_plugins

#: (source index, encoder indices) into the model list.
SourceTask = tuple[int, list[int]]
PairCallback = Callable[[int, int, Cell], None]


def evaluate_source(
    source: Model,
    encoders: Sequence[Model],
    protocol: Protocol,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[Cell]:
    """The cells ``cross[source, encoder]`` of every encoder, under the protocol's
    similarity (:mod:`~modelcentrality.engine`), with draws keyed by the seed and the
    source model's name.

    Returns
    -------
    list of Cell, one per encoder.
    """
    similarity = get_similarity(protocol.similarity)
    return similarity.cells(source, encoders, protocol, keyed_rng(seed, source.name), progress)


@dataclass(frozen=True)
class BackendOptions:
    """What :func:`make_backend` (``rank --jobs/--threads/--address/--ray-load``) passes
    to the backend it builds; each backend takes the ones that fit it.

    Attributes
    ----------
    n_jobs : int
        Worker processes on this machine (0: one per CPU; 1: this process).
    threads : int or None
        Threads per worker, or CPUs per task.
    address : str or None
        The cluster to join.
    ray_load : {"path", "bytes"} or None
        How cluster workers get the models.
    """

    n_jobs: int = 1
    threads: int | None = None
    address: str | None = None
    ray_load: str | None = None


class Backend(ABC):
    """Runs source tasks and reports each finished pair.

    A backend is also a context manager, for those that hold resources (a cluster
    connection) across several :meth:`run` calls; the default holds none.

    Attributes
    ----------
    name : str
        Registered name (``make_backend(NAME)``, ``rank --backend NAME``).
    """

    name: ClassVar[str]

    @classmethod
    def from_options(cls, options: BackendOptions) -> Backend:
        """The backend built from :func:`make_backend`'s options (those of ``rank``'s
        command line); this default takes none of them (``threads`` is left to the
        models).

        Raises
        ------
        ParameterError
            For an option the backend does not take.
        """
        given = {
            "--jobs": options.n_jobs != 1,
            "--address": options.address is not None,
            "--ray-load": options.ray_load is not None,
        }
        foreign = [option for option, is_given in given.items() if is_given]
        if foreign:
            raise ParameterError(f"backend {cls.name!r} does not take {', '.join(foreign)}")
        return cls()

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

    name = "local"

    @classmethod
    def from_options(cls, options: BackendOptions) -> Backend:
        """This process (``n_jobs=1``) or a :class:`ProcessBackend` (0: one worker per
        CPU); ``threads``: per worker."""
        if options.address is not None or options.ray_load is not None:
            raise ParameterError("--address and --ray-load need --backend ray")
        n_jobs = check_int("n_jobs", options.n_jobs, minimum=0)
        if n_jobs == 1:
            return cls()
        return ProcessBackend(n_jobs or None, options.threads)

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
#: prctl(2) option: the signal the kernel sends this process when its parent exits.
_PR_SET_PDEATHSIG = 1


def _arm_parent_death_signal() -> bool:
    """Linux: have the kernel SIGKILL this process when its parent exits; True if armed.

    The kernel's signal needs nothing from this process (no thread, no GIL, no
    timing), so it also ends a worker stuck in a long computation. It fires when the
    parent *thread* that started this process exits: pools start their workers from
    the thread that submits tasks (:meth:`ProcessBackend.run`).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parent_handle(parent: int) -> int | None:
    """A descriptor that becomes readable when process ``parent`` exits, or None."""
    try:
        return os.pidfd_open(parent)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the parent is gone
        pass
    process = multiprocessing.parent_process()
    return None if process is None or process.pid != parent else process.sentinel


def _wait_for_parent(parent: int, handle: int | None) -> None:
    if handle is not None:
        multiprocessing.connection.wait([handle])
    else:  # no descriptor to wait on: look now and then
        while os.getppid() == parent:
            time.sleep(0.5)
    os._exit(1)


def watch_parent(parent: int, *, death_signal: bool = True) -> None:
    """Make this worker process exit when process ``parent`` (its parent) exits.

    A parent killed by SIGKILL or SIGTERM cannot shut its workers down: without this,
    they (each holding every model open) would wait for tasks forever. Two guards, both
    independent of timing: the kernel's parent-death signal (Linux, ``death_signal``),
    and a thread that waits on a descriptor which becomes readable when the parent
    exits (a pidfd, else the multiprocessing parent sentinel).

    Parameters
    ----------
    parent : int
        The parent's pid as the parent saw it when starting this worker.
    death_signal : bool
        Also arm the kernel's signal (for processes whose parent is the thread that
        started them, such as pool workers; not for Ray workers, whose raylet starts
        them from threads of its own).
    """
    if death_signal:
        _arm_parent_death_signal()
    handle = _parent_handle(parent)
    # The parent may have exited before the guards were set (a worker still importing
    # on a loaded machine): then no signal or descriptor will ever tell.
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_wait_for_parent, args=(parent, handle), daemon=True).start()


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold Ctrl-C back while workers are started: they inherit the blocked signal, so
    one still importing cannot die of it (and print a traceback); here it is delivered
    on leaving, and the workers ignore it once :func:`_init_worker` runs."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _init_worker(specs: dict[int, dict[str, Any]], threads: int, parent: int) -> None:
    global _worker_threads
    # Ctrl-C reaches the whole process group: the parent handles it and ends the
    # workers, which would otherwise each print a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    watch_parent(parent)
    _worker_specs.clear()
    _worker_specs.update(specs)
    _worker_threads = threads


def _worker_task(
    source: int, encoders: list[int], protocol: Protocol, seed: int, plugins: Plugins
):
    load_plugins(plugins)
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
    started with ``spawn`` (safe with ONNX Runtime's threads) and end with this process,
    also when it is killed (:func:`watch_parent`).
    Outside a ``with`` block they live for one :meth:`run` call; inside one (and during
    :func:`~modelcentrality.rank`, which enters its backend) they stay up, with their
    open models, across calls on the same models, such as the rounds of the
    precision-targeted mode.

    Registrations of this process that the job uses (a similarity, an adapter) are
    imported by the workers before their tasks, by ``module:qualname``; the workers get
    this process's ``sys.path``.
    """

    name = "local"

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
            initargs=(specs, self.threads, os.getpid()),
        )
        self._pool_keys = keys
        return self._pool

    def run(self, models, tasks, protocol, seed, on_pair, progress=None) -> None:
        if not tasks:
            return
        plugins = worker_plugins(models, protocol, "the process backend")
        # Every model, not only this call's, so that later calls on the same models
        # find their specs in the held pool's workers.
        specs = {index: self._spec(model) for index, model in enumerate(models)}
        pool = self._pool_for(specs, len(tasks))
        # Longest tasks first, so that no worker is left with a long one at the end.
        order = sorted(tasks, key=lambda task: -len(task[1]))
        pending: dict[Future, SourceTask] = {}
        failed = True
        try:
            # Workers start on demand, inside submit.
            with _sigint_held():
                for i, encoders in order:
                    future = pool.submit(_worker_task, i, list(encoders), protocol, seed, plugins)
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


#: Registered backends (:class:`Backend` subclasses), by name.
BACKENDS = Registry(
    "backend",
    "backends",
    {
        "local": "modelcentrality.execution._backends:LocalBackend",
        "ray": "modelcentrality.execution._ray:RayBackend",
    },
    default_name=lambda backend: backend.name,
)


def register_backend(backend: type[Backend] | None = None, *, name: str | None = None) -> Any:
    """Register a :class:`Backend` subclass under its ``name`` (or ``name``).

    Use as a class decorator (``@register_backend``) or call it. The class builds itself
    from :func:`make_backend`'s options with :meth:`Backend.from_options`.

    Returns
    -------
    The class, unchanged.
    """
    return BACKENDS.register(backend, name=name)


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
    backend : str
        A registered name (:data:`BACKENDS`): "local", "ray", or a plugin's.
    n_jobs : int
        Local backend: worker processes (0: one per CPU; 1: this process).
    threads : int, optional
        Threads per worker (local) or CPUs per task (Ray).
    address, ray_load : str, optional
        Ray only: the cluster to join and how workers get the models ("path"/"bytes").

    Raises
    ------
    ParameterError
        For an unknown name, or options that do not fit the backend.
    """
    options = BackendOptions(n_jobs, threads, address, ray_load)
    return BACKENDS.lookup(backend).from_options(options)

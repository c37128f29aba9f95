"""Run ModelCentrality's source tasks on a Ray cluster (optional: ``pip install ray``).

Each source task (one model's generated sets encoded by a list of encoders) becomes one
Ray task. The worker opens the ONNX models it needs, either from their files on a
filesystem that every node mounts at the same path (``load="path"``) or from the file
contents, put once per model in Ray's object store (``load="bytes"``), and keeps them
open for its later tasks (:mod:`modelcentrality.execution`). Results are
identical to :class:`~modelcentrality.backends.LocalBackend`'s for a seed, since each
source's draws depend only on the seed and the source model's name.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from .._registry import Plugins, load_plugins
from .._validation import check_choice, check_int
from ..contract import Model
from ..engine import Cell, Protocol
from ..errors import ModelCentralityError, ParameterError
from ._backends import (
    Backend,
    BackendOptions,
    PairCallback,
    SourceTask,
    evaluate_source,
    report_progress,
    watch_parent,
)
from ._transport import model_spec, open_models, worker_plugins

LOAD_MODES = ("path", "bytes")
INSTALL_HINT = "pip install 'modelcentrality[ray]' (or: pip install 'ray>=2.9')"


def import_ray() -> Any:
    """The ``ray`` module, or a one-line ModelCentralityError telling how to install it."""
    try:
        import ray
    except ImportError:
        raise ModelCentralityError(f"the Ray backend needs ray: {INSTALL_HINT}") from None
    return ray


def _source_task(
    specs: dict[int, dict[str, Any]],
    source: int,
    encoders: list[int],
    protocol: Protocol,
    seed: int,
    threads: int,
    driver: int,
    plugins: Plugins,
) -> list[Cell]:
    """Body of one Ray task: the cells ``cross[source, encoders]``.

    Ray reuses its worker processes, so the models stay open between tasks. ``driver``
    is the pid of the process that submitted the task; ``plugins``: the registrations
    the task needs, imported first.
    """
    import ray

    if os.getpid() != driver:  # a worker process, not the driver in Ray's local mode
        _watch_raylet()
    load_plugins(plugins)
    models = open_models(specs, threads, resolve=ray.get)
    return evaluate_source(models[source], [models[j] for j in encoders], protocol, seed)


_watching = False


def _watch_raylet() -> None:
    """Once per Ray worker process: exit when its parent (the node's raylet) exits.

    A local Ray instance dies with the driver that started it; its workers then follow
    the raylet instead of computing for nobody.
    """
    global _watching
    if not _watching:
        _watching = True
        watch_parent(os.getppid(), death_signal=False)


class RayBackend(Backend):
    """Runs each source task as a Ray task, on a cluster or on a local Ray instance.

    Parameters
    ----------
    address : str, optional
        Ray cluster to connect to (``"auto"``: the cluster that ``ray start`` launched
        on this node; ``"ray://host:10001"``: Ray Client). Default: start a local Ray
        instance for the duration of :meth:`run` (or of the ``with`` block). When this
        process is already connected to Ray (``ray.init`` was called), that connection
        is used as it is.
    load : {"path", "bytes"}
        How workers get the ONNX files: ``"path"`` opens them at the same absolute path
        (a shared filesystem); ``"bytes"`` puts each model's files in Ray's object store
        once and workers build their sessions from memory.
    num_cpus : int, optional
        CPUs of the local instance (default: all); not allowed with ``address``.
    cpus_per_task : int
        CPUs Ray reserves for each task; its ONNX Runtime sessions use that many
        intra-op threads.

    Notes
    -----
    Models of every registered adapter (:data:`~modelcentrality.execution.ADAPTERS`)
    can be distributed; in-memory PyTorch models need ``load="bytes"``. Every node
    needs ``modelcentrality`` installed, and the modules of this process's registrations
    that a job uses (a similarity, an adapter) importable: installed, or on the
    workers' ``PYTHONPATH``.

    Ray is only shut down by whoever started it: :meth:`run` closes a connection it
    opened itself at its end. Used as a context manager, the backend connects on entry
    and disconnects on exit, so that several :meth:`run` calls share one connection.
    """

    name = "ray"

    @classmethod
    def from_options(cls, options: BackendOptions) -> RayBackend:
        """The cluster at ``address`` (default: a local instance); ``threads``: CPUs per
        task; ``n_jobs`` is not taken (Ray sizes itself)."""
        if options.n_jobs != 1:
            raise ParameterError("--jobs is for the local backend; Ray sizes itself")
        return cls(
            options.address, load=options.ray_load or "path", cpus_per_task=options.threads or 1
        )

    def __init__(
        self,
        address: str | None = None,
        load: str = "path",
        num_cpus: int | None = None,
        cpus_per_task: int = 1,
    ) -> None:
        check_choice("load", load, LOAD_MODES)
        if num_cpus is not None:
            check_int("num_cpus", num_cpus, minimum=1)
            if address is not None:
                raise ParameterError(
                    "num_cpus sets up a local Ray instance; it cannot be used with address"
                )
        check_int("cpus_per_task", cpus_per_task, minimum=1)
        self.address = address
        self.load = load
        self.num_cpus = num_cpus
        self.cpus_per_task = int(cpus_per_task)
        self._ray = import_ray()
        self._entered = False
        self._depth = 0

    def __enter__(self) -> RayBackend:
        if self._depth == 0:
            self._entered = self._connect()
        self._depth += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._depth = max(0, self._depth - 1)
        if self._depth == 0 and self._entered:
            self._entered = False
            self._ray.shutdown()

    def _connect(self) -> bool:
        """Make sure Ray is initialised; True when this call did it."""
        ray = self._ray
        if ray.is_initialized():
            return False
        options: dict[str, Any] = {
            "ignore_reinit_error": True,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if self.address is None:
            # "local" starts a fresh instance even when RAY_ADDRESS or an earlier
            # `ray start` on this node would make ray.init() attach to a cluster.
            options.update(address="local", num_cpus=self.num_cpus, include_dashboard=False)
        else:
            options["address"] = self.address
        try:
            ray.init(**options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            what = f"connect to Ray at {self.address!r}" if self.address else "start Ray"
            raise ModelCentralityError(f"cannot {what}: {_last_line(exc)}") from None
        return True

    def run(
        self,
        models: Sequence[Model],
        tasks: Sequence[SourceTask],
        protocol: Protocol,
        seed: int,
        on_pair: PairCallback,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if not tasks:
            return
        needed = sorted({index for i, encoders in tasks for index in (i, *encoders)})
        plugins = worker_plugins([models[index] for index in needed], protocol, "the Ray backend")
        ray = self._ray
        started = self._connect()
        pending: dict[Any, SourceTask] = {}
        try:
            specs = {
                index: model_spec(models[index], self.load, ray.put, "the Ray backend")
                for index in needed
            }
            remote = ray.remote(_source_task).options(num_cpus=self.cpus_per_task)
            for i, encoders in tasks:
                task_specs = {index: specs[index] for index in {i, *encoders}}
                ref = remote.remote(
                    task_specs, i, list(encoders), protocol, seed, self.cpus_per_task,
                    os.getpid(), plugins,
                )
                pending[ref] = (i, list(encoders))
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                i, encoders = pending.pop(ref)
                results = self._result(ref, models[i].name)
                for j, result in zip(encoders, results):
                    on_pair(i, j, result)
                report_progress(progress, models[i], protocol, len(encoders))
        finally:
            for ref in pending:
                # Best effort: free the cluster after a failure or an interrupt.
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            if started:
                ray.shutdown()

    def _result(self, ref: Any, source_name: str) -> list[Cell]:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ModelCentralityError):
                raise cause from None
            raise ModelCentralityError(
                f"Ray task for source model '{source_name}' failed: {_last_line(exc)}"
            ) from exc


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__

"""Run ModelCentrality's source tasks on a Ray cluster (optional: ``pip install ray``).

Each source task (one model's generated sets encoded by a list of encoders) becomes one
Ray task. The worker rebuilds the ONNX models it needs, either from their files on a
filesystem that every node mounts at the same path (``load="path"``) or from the file
contents, put once per model in Ray's object store (``load="bytes"``). Results are
identical to :class:`~modelcentrality.backends.LocalBackend`'s for a seed, since each
source's draws depend only on the seed and the source model's name.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .adapters.onnx_runtime import OnnxModel
from .backends import Backend, PairCallback, SourceTask, evaluate_source
from .errors import ModelCentralityError, ModelError
from .model import Model, Prior
from .scoring import source_observation_count
from .traversal import GeneratedFactors
from .votes import Protocol, VoteResult

LOAD_MODES = ("path", "bytes")
INSTALL_HINT = "pip install 'modelcentrality[ray]' (or: pip install 'ray>=2.9')"


def import_ray() -> Any:
    """The ``ray`` module, or a one-line ModelCentralityError telling how to install it."""
    try:
        import ray
    except ImportError:
        raise ModelCentralityError(f"the Ray backend needs ray: {INSTALL_HINT}") from None
    return ray


def _check_distributable(model: Model, load: str) -> None:
    if not isinstance(model, OnnxModel):
        raise ModelCentralityError(
            f"the Ray backend can only distribute ONNX models (OnnxModel, e.g. from load_zoo); "
            f"model '{model.name}' is a {type(model).__name__}: export it to the zoo folder "
            f"format or use the local backend"
        )
    if load == "path" and (model.encoder_path is None or model.generator_path is None):
        raise ModelError(model.name, "was built from ONNX bytes, not files: use load='bytes'")


def _model_spec(model: OnnxModel, load: str, ray: Any) -> dict[str, Any]:
    """What a worker needs to rebuild ``model``: its contract and where its ONNX files are."""
    if load == "path":
        # Workers run in other folders: send absolute paths.
        files: Any = (str(model.encoder_path.resolve()), str(model.generator_path.resolve()))
    else:
        try:
            files = ray.put(model.onnx_bytes())
        except OSError as exc:
            raise ModelError(model.name, f"cannot read its ONNX files: {exc}") from None
    return {
        "contract": model.contract(),
        "logvar_output": model.logvar_output,
        "batch_size": model.batch_size,
        "load": load,
        "files": files,
    }


def _rebuild(spec: dict[str, Any], threads: int) -> OnnxModel:
    contract = spec["contract"]
    files = spec["files"]
    if spec["load"] == "bytes":
        import ray

        files = ray.get(files)
    else:
        missing = [path for path in files if not Path(path).is_file()]
        if missing:
            raise ModelError(
                contract["name"],
                f"missing file {missing[0]} on Ray node {socket.gethostname()}: load='path' "
                f"needs the zoo at the same path on every node (or use load='bytes')",
            )
    return OnnxModel(
        *files,
        name=contract["name"],
        latent_dim=contract["latent_dim"],
        code_dims=contract["code_dims"],
        prior=Prior.from_dict(contract["prior"]),
        kind=contract["kind"],
        logvar_output=spec["logvar_output"],
        observation_shape=contract["observation_shape"],
        batch_size=spec["batch_size"],
        threads=threads,
    )


def _source_task(
    specs: dict[int, dict[str, Any]],
    source: int,
    encoders: list[int],
    protocol: Protocol,
    seed: int,
    threads: int,
) -> list[VoteResult]:
    """Body of one Ray task: the cells ``cross[source, encoders]``."""
    models = {index: _rebuild(spec, threads) for index, spec in specs.items()}
    return evaluate_source(models[source], [models[j] for j in encoders], protocol, seed)


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
    Only :class:`~modelcentrality.adapters.onnx_runtime.OnnxModel` models can be
    distributed. Every node needs ``modelcentrality`` installed.

    Ray is only shut down by whoever started it: :meth:`run` closes a connection it
    opened itself at its end. Used as a context manager, the backend connects on entry
    and disconnects on exit, so that several :meth:`run` calls share one connection.
    """

    def __init__(
        self,
        address: str | None = None,
        load: str = "path",
        num_cpus: int | None = None,
        cpus_per_task: int = 1,
    ) -> None:
        if load not in LOAD_MODES:
            raise ValueError(f"load must be one of {LOAD_MODES}, got {load!r}")
        if num_cpus is not None and num_cpus < 1:
            raise ValueError(f"num_cpus must be >= 1, got {num_cpus}")
        if num_cpus is not None and address is not None:
            raise ValueError(
                "num_cpus sets up a local Ray instance; it cannot be used with address"
            )
        if cpus_per_task < 1:
            raise ValueError(f"cpus_per_task must be >= 1, got {cpus_per_task}")
        self.address = address
        self.load = load
        self.num_cpus = num_cpus
        self.cpus_per_task = int(cpus_per_task)
        self._ray = import_ray()
        self._entered = False

    def __enter__(self) -> RayBackend:
        self._entered = self._connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._entered:
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
        for index in needed:
            _check_distributable(models[index], self.load)
        ray = self._ray
        started = self._connect()
        pending: dict[Any, SourceTask] = {}
        try:
            specs = {index: _model_spec(models[index], self.load, ray) for index in needed}
            remote = ray.remote(_source_task).options(num_cpus=self.cpus_per_task)
            for i, encoders in tasks:
                task_specs = {index: specs[index] for index in {i, *encoders}}
                ref = remote.remote(
                    task_specs, i, list(encoders), protocol, seed, self.cpus_per_task
                )
                pending[ref] = (i, list(encoders))
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                i, encoders = pending.pop(ref)
                results = self._result(ref, models[i].name)
                for j, result in zip(encoders, results):
                    on_pair(i, j, result)
                if progress is not None:
                    observations = source_observation_count(GeneratedFactors(models[i]), protocol)
                    progress(observations * len(encoders))
        finally:
            for ref in pending:
                # Best effort: free the cluster after a failure or an interrupt.
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
            if started:
                ray.shutdown()

    def _result(self, ref: Any, source_name: str) -> list[VoteResult]:
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

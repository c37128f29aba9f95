"""Send ONNX models to worker processes, and keep them open there between tasks.

A backend that runs source tasks in other processes (local worker processes, Ray
workers) cannot pickle ONNX Runtime sessions. It sends a *model spec* instead: the
model's contract, how to run it, and where its ONNX files are (a path on a filesystem
the worker sees, the raw bytes, or a handle such as a Ray object reference that the
backend resolves). The worker rebuilds the model once and keeps it in a per-process
cache keyed by the model's content hash, so a worker that runs many tasks opens each
session once, not once per task. Workers live for one job (a Ray job, one
:class:`~modelcentrality.backends.ProcessBackend` run), in which files do not change.
"""

from __future__ import annotations

import json
import socket
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .adapters.onnx_runtime import OnnxModel
from .errors import ModelCentralityError, ModelError
from .model import Model, Prior

#: Models kept open per worker process beyond those the current task needs.
CACHE_SIZE = 64

_open_models: OrderedDict[tuple[str, int], OnnxModel] = OrderedDict()


def check_shippable(model: Model, load: str, backend: str) -> None:
    """Raise a one-line error unless ``model`` can be sent to a worker with ``load``.

    Parameters
    ----------
    model : Model
    load : {"path", "bytes"}
    backend : str
        Named in the message, e.g. ``"the Ray backend"``.
    """
    if not isinstance(model, OnnxModel):
        raise ModelCentralityError(
            f"{backend} can only distribute ONNX models (OnnxModel, e.g. from load_zoo); "
            f"model '{model.name}' is a {type(model).__name__}: export it to the zoo folder "
            f"format or use the local backend with jobs=1"
        )
    if load == "path" and (model.encoder_path is None or model.generator_path is None):
        raise ModelError(model.name, "was built from ONNX bytes, not files: use load='bytes'")


def model_spec(
    model: OnnxModel, load: str, put: Callable[[tuple[bytes, bytes]], Any] | None = None
) -> dict[str, Any]:
    """What a worker needs to rebuild ``model``.

    Parameters
    ----------
    model : OnnxModel
    load : {"path", "bytes"}
        ``"path"``: absolute file paths (workers may run in other folders);
        ``"bytes"``: the serialized encoder and generator.
    put : callable, optional
        Maps the bytes to a handle (e.g. ``ray.put``) that the backend resolves back to
        the bytes before :func:`open_model`; default: the bytes themselves.
    """
    if load == "path":
        files: Any = (str(model.encoder_path.resolve()), str(model.generator_path.resolve()))
        # Workers live for one job, in which the files do not change: their paths and
        # the contract identify the model without reading it here.
        key = json.dumps([files, model.contract()], sort_keys=True)
    else:
        try:
            contents = model.onnx_bytes()
        except OSError as exc:
            raise ModelError(model.name, f"cannot read its ONNX files: {exc}") from None
        files = contents if put is None else put(contents)
        key = model.fingerprint()
    return {
        "key": key,
        "contract": model.contract(),
        "logvar_output": model.logvar_output,
        "batch_size": model.batch_size,
        "load": load,
        "files": files,
    }


def open_model(
    spec: dict[str, Any], threads: int, resolve: Callable[[Any], Any] | None = None
) -> OnnxModel:
    """The model of ``spec``, from this process's cache or rebuilt (then cached).

    Parameters
    ----------
    spec : dict
        From :func:`model_spec`.
    threads : int
        ONNX Runtime intra-op threads of the rebuilt sessions.
    resolve : callable, optional
        Turns a ``put`` handle back into the bytes (only called on a cache miss).
    """
    key = (spec["key"], int(threads))
    model = _open_models.get(key)
    if model is not None:
        _open_models.move_to_end(key)
        return model
    contract = spec["contract"]
    files = spec["files"]
    if spec["load"] == "bytes":
        if resolve is not None:
            files = resolve(files)
    else:
        missing = [path for path in files if not Path(path).is_file()]
        if missing:
            raise ModelError(
                contract["name"],
                f"missing file {missing[0]} on {socket.gethostname()}: load='path' needs the "
                f"zoo at the same path on every worker (or use load='bytes')",
            )
    model = OnnxModel(
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
    _open_models[key] = model
    return model


def open_models(
    specs: dict[int, dict[str, Any]], threads: int, resolve: Callable[[Any], Any] | None = None
) -> dict[int, OnnxModel]:
    """Open every model of a task, then trim the cache to the task's models plus
    :data:`CACHE_SIZE` others (least recently used go first)."""
    models = {index: open_model(spec, threads, resolve) for index, spec in specs.items()}
    while len(_open_models) > len(specs) + CACHE_SIZE:
        _open_models.popitem(last=False)
    return models

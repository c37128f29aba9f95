"""Send models to worker processes, and keep them open there between tasks.

A backend that runs source tasks in other processes (local worker processes, Ray
workers) cannot pickle live sessions. It sends a *model spec* instead
(:meth:`~modelcentrality.contract.Model.to_spec`): the model's contract and what its
adapter needs to rebuild it (file paths, bytes, or a handle such as a Ray object
reference that the backend resolves), tagged with the adapter's registered name. The
worker rebuilds the model once (:meth:`~modelcentrality.contract.Model.from_spec`) and
keeps it in a per-process cache keyed by the spec's key, so a worker that runs many
tasks opens each model once, not once per task. Workers live for one job, in which
files do not change.

A new adapter travels by implementing ``to_spec``/``from_spec`` and registering under a
name (:func:`register_adapter`, or an entry point in ``modelcentrality.adapters``). A
registration made in this process reaches the workers with the job
(:func:`worker_plugins`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from .._registry import Plugins, Registry, plugin_references
from ..contract import Model
from ..engine import Protocol
from ..errors import ModelError

#: Adapter name -> every model class that can travel to workers (built-ins are imported
#: on first use: the core does not import torch).
ADAPTERS = Registry(
    "adapter",
    "adapters",
    {
        "onnx": "modelcentrality.adapters.onnx_runtime:OnnxModel",
        "torch": "modelcentrality.adapters.pytorch:TorchModel",
        "onnx_torch": "modelcentrality.adapters.onnx_torch:OnnxTorchModel",
    },
)


def register_adapter(adapter: Any = None, *, name: str | None = None) -> Any:
    """Register a :class:`~modelcentrality.contract.Model` subclass that implements
    ``to_spec``/``from_spec``, so that its models travel to worker processes.

    Use as ``@register_adapter("name")`` on the class, or
    ``register_adapter(cls, name="name")``. Worker processes import the class by its
    ``module:qualname``: define it at the top level of an importable module.

    Returns
    -------
    The class, unchanged (or a decorator when only the name is given).
    """
    return ADAPTERS.register(adapter, name=name)


#: Models kept open per worker process beyond those the current task needs.
CACHE_SIZE = 64

_open_models: OrderedDict[tuple[str, int], Model] = OrderedDict()


def worker_plugins(models: Sequence[Model], protocol: Protocol, backend: str) -> Plugins:
    """The registrations of this process that a job on these models needs in its
    workers (the protocol's similarity, the models' adapters), as references.

    Raises
    ------
    ParameterError
        One line naming an entry that cannot travel to worker processes.
    """
    needed = [("similarity", protocol.similarity)]
    needed += [("adapter", name) for model in models if (name := ADAPTERS.name_of(type(model)))]
    return plugin_references(needed, backend)


def model_spec(
    model: Model,
    load: str | None = None,
    put: Callable[[Any], Any] | None = None,
    backend: str = "a worker process",
) -> dict[str, Any]:
    """What a worker needs to rebuild ``model``, or a one-line error naming it.

    Parameters
    ----------
    model : Model
    load : {"path", "bytes"} or None
        How the weights travel; None: the adapter's default.
    put : callable, optional
        Maps a large payload to a handle (e.g. ``ray.put``).
    backend : str
        Named in the error message, e.g. ``"the Ray backend"``.
    """
    adapter = ADAPTERS.name_of(type(model))
    if adapter is None:
        raise ModelError(
            model.name,
            f"{backend} cannot send a {type(model).__name__}: only registered adapters "
            f"({', '.join(sorted(ADAPTERS))}) travel to workers; run it in this process",
        )
    return {"adapter": adapter, **model.to_spec(load, put)}


def open_model(
    spec: dict[str, Any], threads: int, resolve: Callable[[Any], Any] | None = None
) -> Model:
    """The model of ``spec``, from this process's cache or rebuilt (then cached).

    Parameters
    ----------
    spec : dict
        From :func:`model_spec`.
    threads : int
        Threads of the rebuilt model's runtime.
    resolve : callable, optional
        Turns a ``put`` handle back into its payload (only called on a cache miss).
    """
    key = (spec["key"], int(threads))
    model = _open_models.get(key)
    if model is not None:
        _open_models.move_to_end(key)
        return model
    model = ADAPTERS.lookup(spec["adapter"]).from_spec(spec, threads, resolve)
    _open_models[key] = model
    return model


def open_models(
    specs: dict[int, dict[str, Any]], threads: int, resolve: Callable[[Any], Any] | None = None
) -> dict[int, Model]:
    """Open every model of a task, then trim the cache to the task's models plus
    :data:`CACHE_SIZE` others (least recently used go first)."""
    models = {index: open_model(spec, threads, resolve) for index, spec in specs.items()}
    while len(_open_models) > len(specs) + CACHE_SIZE:
        _open_models.popitem(last=False)
    return models

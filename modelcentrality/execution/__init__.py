"""Where cross-evaluation runs: backends, moving models to workers, and the pair cache.

A new backend is one module with a :class:`Backend` subclass registered by
:func:`register_backend` (``make_backend`` and ``rank --backend`` find it); a new adapter
travels to workers by implementing ``to_spec``/``from_spec`` and registering with
:func:`register_adapter`. Registrations reach worker processes with each job.
"""

from ._backends import (
    BACKENDS,
    Backend,
    BackendOptions,
    LocalBackend,
    PairCallback,
    ProcessBackend,
    SourceTask,
    default_n_jobs,
    evaluate_source,
    make_backend,
    register_backend,
)
from ._cache import PairCache
from ._ray import RayBackend
from ._transport import ADAPTERS, model_spec, open_model, open_models, register_adapter

__all__ = [
    "ADAPTERS",
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "LocalBackend",
    "PairCache",
    "PairCallback",
    "ProcessBackend",
    "RayBackend",
    "SourceTask",
    "default_n_jobs",
    "evaluate_source",
    "make_backend",
    "model_spec",
    "open_model",
    "open_models",
    "register_adapter",
    "register_backend",
]

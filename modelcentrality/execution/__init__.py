"""Where cross-evaluation runs: backends, moving models to workers, and the pair cache.

A new backend is one module with a :class:`Backend` subclass plus one line in
:func:`make_backend`; a new adapter travels to workers by implementing
``to_spec``/``from_spec`` and one line in :data:`ADAPTERS`.
"""

from ._backends import (
    BACKENDS,
    Backend,
    LocalBackend,
    PairCallback,
    ProcessBackend,
    SourceTask,
    default_n_jobs,
    evaluate_source,
    make_backend,
)
from ._cache import PairCache
from ._ray import RayBackend
from ._transport import ADAPTERS, model_spec, open_model, open_models

__all__ = [
    "ADAPTERS",
    "BACKENDS",
    "Backend",
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
]

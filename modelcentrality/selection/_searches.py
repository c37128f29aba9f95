"""The registry of search strategies, and :func:`make_search`.

Built-in strategies are ``"module:qualname"`` strings imported on first use, so this
module imports none of them (and the strategies' modules do not import each other
through it). A plugin adds one with :func:`register_search` or an entry point in
``modelcentrality.searches``; ``rank(search=NAME)``, ``rank --search`` and
:func:`make_search` then find it.
"""

from __future__ import annotations

import inspect
from typing import Any

from .._registry import Registry
from ..errors import ParameterError
from ._search import SearchStrategy

#: Registered strategies (:class:`SearchStrategy` subclasses), by name.
SEARCHES = Registry(
    "search",
    "searches",
    {
        "full": "modelcentrality.selection._search:FullSearch",
        "precision": "modelcentrality.selection._search:PrecisionSearch",
        "adaptive": "modelcentrality.selection._adaptive:AdaptiveSearch",
    },
    default_name=lambda strategy: strategy.name,
)


def register_search(
    strategy: type[SearchStrategy] | None = None, *, name: str | None = None
) -> Any:
    """Register a :class:`SearchStrategy` subclass under its ``name`` (or ``name``).

    Use as a class decorator (``@register_search``) or call it. Strategies run in this
    process, so they need not be importable by worker processes.

    Returns
    -------
    The class, unchanged.
    """
    return SEARCHES.register(strategy, name=name)


def make_search(name: str, **options: Any) -> SearchStrategy:
    """A registered strategy built from its options (None values count as not given).

    Raises
    ------
    ParameterError
        For an unknown name, an option the strategy does not take (it would be ignored
        silently otherwise), or a required option that is missing.
    """
    cls = SEARCHES.lookup(name)
    accepted = inspect.signature(cls).parameters
    kwargs = {key: value for key, value in options.items() if value is not None}
    foreign = sorted(set(kwargs) - set(accepted))
    if foreign:
        raise ParameterError(f"search {name!r} does not take {', '.join(foreign)}")
    missing = [
        key for key, p in accepted.items()
        if p.default is inspect.Parameter.empty and key not in kwargs
    ]
    if missing:
        raise ParameterError(f"search {name!r} needs {', '.join(missing)}")
    return cls(**kwargs)

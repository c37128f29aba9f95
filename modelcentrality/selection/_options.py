"""Options given as text (``rank --search-option KEY=VALUE``), typed by the annotations
of the constructor that takes them."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ParameterError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def options_from_text(
    cls: Callable[..., Any], texts: Mapping[str, str], what: str
) -> dict[str, Any]:
    """Convert ``{name: text}`` to the types ``cls``'s constructor annotates.

    ``int``, ``float``, ``bool`` (true/false, yes/no, on/off, 1/0) and ``str`` are
    converted, and an optional one (``int | None``) also takes ``none``.

    Parameters
    ----------
    cls : class
        A constructor with annotated keyword parameters (e.g. a
        :class:`~modelcentrality.selection.SearchStrategy` dataclass).
    texts : mapping of str to str
    what : str
        What ``cls`` is, for the messages (e.g. "search 'adaptive'").

    Returns
    -------
    dict of str to object

    Raises
    ------
    ParameterError
        For a name the constructor does not take, or a text its type refuses.
    """
    parameters = inspect.signature(cls).parameters
    try:
        hints = typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):
        hints = {}
    values = {}
    for name, text in texts.items():
        if name not in parameters:
            raise ParameterError(f"{what} does not take {name}")
        values[name] = _convert(name, text, hints.get(name, str), what)
    return values


def _convert(name: str, text: str, hint: Any, what: str) -> Any:
    kinds = typing.get_args(hint) if _is_union(hint) else (hint,)
    if type(None) in kinds and text.strip().lower() == "none":
        return None
    for kind in kinds:
        if kind is type(None):
            continue
        value = _as(kind, text.strip())
        if value is not None:
            return value
    names = " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
    raise ParameterError(f"{what}: {name} must be {names}, got {text!r}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _as(kind: Any, text: str) -> Any:
    """``text`` as ``kind``; None when it is not one."""
    if kind is bool:
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            return None
    if kind in (str, Any):
        return text
    return None

"""Scalar parameter checks: one place, one exception type, one message style.

Every check raises :class:`~modelcentrality.errors.ParameterError` with a one-line
message that names the parameter and the value it got.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from .errors import ParameterError


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an int within [minimum, maximum]; bools are not integers here."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    open_minimum: bool = False,
) -> float:
    """``value`` as a finite float within its bounds (``open_minimum``: strictly above)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if minimum is not None and (value <= minimum if open_minimum else value < minimum):
        relation = ">" if open_minimum else ">="
        raise ParameterError(f"{name} must be {relation} {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def check_fraction(name: str, value: Any) -> float:
    """``value`` as a float strictly inside (0, 1) (a probability or a coverage)."""
    value = check_float(name, value)
    if not 0 < value < 1:
        raise ParameterError(f"{name} must be in (0, 1), got {value:g}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value

"""Argument checks shared by the workload models: numbers, counts and arrays of times.

:mod:`lbalgo.arrivals`, :mod:`lbalgo.durations` and :mod:`lbalgo.populations`
check their parameters with these; each refuses a bad value with an
:class:`~lbalgo.errors.InvalidArgument` (or ``InvalidArgumentType``) naming the
parameter.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._validate import flat
from .errors import InvalidArgument, InvalidArgumentType, LbalgoError, short

__all__ = ["real", "positive", "count", "time_array"]


def real(value: Any, what: str) -> float:
    """``value`` as a float, or raise naming ``what`` (an integer too large for a float is infinite)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentType(f"{what} must be a number, got {short(value)}")
    try:
        return float(value)
    except OverflowError:
        return math.inf


def positive(value: Any, what: str) -> float:
    """``value`` as a finite float > 0, or raise naming ``what``."""
    v = real(value, what)
    if not math.isfinite(v) or v <= 0:
        raise InvalidArgument(f"{what} must be finite and > 0, got {short(value)}")
    return v


def count(value: Any, what: str) -> int:
    """``value`` as an int >= 1, or raise naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise InvalidArgument(f"{what} must be an integer >= 1, got {short(value)}")
    return int(value)


def time_array(values: Any, what: str) -> np.ndarray:
    """``values`` as a contiguous 1-D float64 array of finite times >= 0, or raise naming ``what``."""
    try:
        a = np.ascontiguousarray(flat(values, what), dtype=np.float64)
    except (TypeError, ValueError) as e:
        if isinstance(e, LbalgoError):
            raise
        raise InvalidArgument(f"{what} must be numbers ({' '.join(str(e).split())[:80]})") from None
    if a.ndim != 1:
        raise InvalidArgument(f"{what} must be 1-D, got shape {a.shape}")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidArgument(f"{what}[{i}] = {short(a[i])} is not a finite time >= 0")
    return a

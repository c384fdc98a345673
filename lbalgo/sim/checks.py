"""Checks of :func:`lbalgo.sim.simulate`'s arguments that need more than a type test.

Per-backend values (``servers``, ``speeds``) expanded to one entry per
backend id; the workload arrays the compiled loop will trust; and the clock:
a run whose times would overflow is refused, one whose times drown the service
times warns (:class:`~lbalgo.errors.PrecisionWarning`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .._validate import flat
from ..errors import InvalidArgument, InvalidArgumentType, PrecisionWarning, short

__all__ = ["per_backend", "as_float", "check_horizon", "check_arrays", "PRECISION_WARNING_SHARE"]


def per_backend(value: Any, what: str, capacity: int, initial: np.ndarray, added: list,
                dtype: Any) -> np.ndarray:
    """Expand ``servers``/``speeds`` to one entry per backend id."""
    out = np.ones(capacity, dtype=dtype)
    n0 = len(initial)
    if isinstance(value, str):
        if value != "weight":
            raise InvalidArgument(f"{what} must be 'weight', a number or one value per backend, got "
                                  f"{short(value)}")
        out[:n0] = np.maximum(1, initial)
        for b, w, _, _ in added:
            out[b] = max(1, w)
        return out
    try:
        if isinstance(value, (list, tuple)):
            flat(value, what)
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        if isinstance(e, InvalidArgument):
            raise
        raise InvalidArgument(f"{what} must be 'weight', a number or one number per backend, got "
                              f"{short(value)}") from None
    if arr.ndim == 0:
        arr = np.full(n0 + len(added), float(arr))
    if arr.ndim != 1 or len(arr) != n0 + len(added):
        raise InvalidArgument(f"{what} must have one entry per backend id ({n0 + len(added)}, counting "
                              f"added backends), got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise InvalidArgument(f"{what} must be finite and > 0")
    if dtype is np.int64 and ((arr != np.round(arr)).any() or (arr > 2.0**62).any()):
        raise InvalidArgument(f"{what} must be whole numbers of servers (at most 2**62)")
    out[: len(arr)] = arr.astype(dtype)
    return out


def as_float(value: Any) -> float:
    """``float(value)``; an integer too large for a float is infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


#: Warn when the clock resolves a typical service time to worse than this share of it.
PRECISION_WARNING_SHARE = 1e-3


def check_horizon(arrays: Any, event_times: np.ndarray, service: str, lifecycle: str, establish: float,
                  linger: float, speeds: np.ndarray) -> None:
    """Refuse a run whose clock would overflow; warn when its times drown the service times.

    Every event time stays below ``last arrival (or pool event) + largest
    lifetime (+ establish + linger)`` for the infinite server, and below
    ``last arrival + total work / slowest speed`` for FIFO (times the number
    of jobs for processor sharing, whose finish estimates scale with it).
    When that bound is not a finite float, the loop would meet infinite
    times (a speed of 5e-324, an arrival at 1e308 plus a lifetime of 1e308):
    raise before anything runs.
    """
    n = len(arrays.arrival)
    if n == 0:
        return
    last = max(float(arrays.arrival[-1]), float(event_times.max()) if len(event_times) else 0.0)
    life = arrays.lifetime
    with np.errstate(over="ignore"):
        if service == "infinite":
            extra = float(life.max())
            if lifecycle == "tcp":
                extra += (float(establish) if math.isfinite(establish) else 0.0) + float(linger)
            what = "the largest lifetime"
        else:
            slowest = float(speeds.min())
            extra = float(life.sum()) / slowest * (n if service == "ps" else 1)
            if not math.isfinite(extra):
                raise InvalidArgument(f"speeds: the slowest speed {slowest!r} makes the {n:,} connections' "
                                      "service "
                                      f"times too long to simulate (total work {float(life.sum())!r} / speed "
                                      "overflows); use larger speeds or smaller lifetimes")
            what = "the total work over the slowest speed"
        if not math.isfinite(last + extra):
            raise InvalidArgument("the simulated times would overflow: the last arrival or pool event at "
                                  f"{last!r} s "
                                  f"plus {what} ({extra!r} s) is beyond the largest float; shift the "
                                  "arrivals "
                                  "or shorten the lifetimes")
    # Latency is end - arrival: at large times the clock has few bits left for the service time.
    step = max(1, n // 4096)
    sample = life[::step]
    sample = sample[sample > 0]
    if sample.size:
        typical = float(np.median(sample)) / (float(speeds.max()) if service != "infinite" else 1.0)
        resolution = float(np.spacing(last))
        if resolution > PRECISION_WARNING_SHARE * typical:
            warnings.warn(PrecisionWarning(
                f"simulate: times reach {last:.3g} s, where the clock resolves only {resolution:.3g} s, but "
                "the "
                f"typical service time is {typical:.3g} s: times measured from arrival (latency, open time) "
                "lose "
                "precision, and can read 0; raise the arrival rate or start the arrivals nearer 0"),
                stacklevel=3)


def check_arrays(arrays: Any, keys: np.ndarray) -> None:
    """Validate generated (or hand-made) workload arrays before the kernel trusts them."""
    a, life = arrays.arrival, arrays.lifetime
    expected = (("arrival", a, np.float64), ("lifetime", life, np.float64), ("keys", keys, np.int64))
    for name, x, dtype in expected:
        if not isinstance(x, np.ndarray) or x.dtype != dtype or x.ndim != 1 or not x.flags.c_contiguous:
            raise InvalidArgumentType(f"workload {name} must be a contiguous 1-D {np.dtype(dtype).name} "
                                      "array")
        if len(x) != len(a):
            raise InvalidArgument(f"workload {name} has {len(x)} entries but there are {len(a)} arrivals")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        raise InvalidArgument(f"arrival[{int(np.flatnonzero(bad)[0])}] is not a finite time >= 0")
    dec = np.flatnonzero(np.diff(a) < 0)
    if dec.size:
        raise InvalidArgument(f"arrival times must be non-decreasing (arrival[{int(dec[0]) + 1}] is earlier)")
    bad = ~np.isfinite(life) | (life < 0)
    if bad.any():
        raise InvalidArgument(f"lifetime[{int(np.flatnonzero(bad)[0])}] is not a finite duration >= 0")

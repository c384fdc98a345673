"""Axis arithmetic for the SVG charts: data domains, scales to pixels, tick values and labels.

Pure functions of numbers (no markup): :func:`padded` chooses a domain around
the data, :class:`Scale` maps it to pixels (linear or log10),
:func:`nice_ticks` and :func:`log_ticks` choose the tick values and
:func:`format_tick` writes their labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

__all__ = ["Scale", "nice_ticks", "log_ticks", "format_tick", "padded"]


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten in ``[lo, hi]`` (with 2 and 5 times them when the range spans less than two decades)."""
    if lo <= 0 or hi <= lo:
        return []
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1, 2, 5) if b - a <= 2 else (1,)
    return [
        m * 10.0**e
        for e in range(a, b + 1)
        for m in mults
        if lo * (1 - 1e-9) <= m * 10.0**e <= hi * (1 + 1e-9)
    ]


def format_tick(v: float, unit: str = "") -> str:
    """Format a tick label compactly: ``0.25``, ``1.5k``, ``20%`` (``unit="%"``: fractions), ``3 ms``."""
    if unit == "%":
        return f"{100 * v:.4g}%"
    if unit == "s":
        if abs(v) >= 100:
            return f"{v:,.0f} s"
        for suffix, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if abs(v) >= scale or suffix == "ns" or v == 0:
                return f"{v / scale:.3g} {suffix}" if v else "0"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.4g}"


@dataclass
class Scale:
    """Maps data values in ``[lo, hi]`` to pixels in ``[a, b]`` (``log`` for a log10 axis)."""

    lo: float
    hi: float
    a: float
    b: float
    log: bool = False

    def __post_init__(self) -> None:
        if self.log:
            self.lo, self.hi = max(self.lo, 1e-300), max(self.hi, 1e-300)
        if not self.hi > self.lo:  # a flat domain: centre it
            pad = abs(self.lo) * 0.1 or 1.0
            self.lo, self.hi = (self.lo / 10, self.lo * 10) if self.log else (self.lo - pad, self.lo + pad)

    def __call__(self, v: float | np.ndarray) -> np.ndarray:
        """Pixel positions of the data values ``v``."""
        x = np.asarray(v, dtype=np.float64)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.log10(np.maximum(x, self.lo * 1e-3))
            lo, hi = math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        return self.a + (x - lo) / (hi - lo) * (self.b - self.a)

    def ticks(self, n: int = 5) -> list[float]:
        """Tick values inside the domain."""
        return log_ticks(self.lo, self.hi) if self.log else nice_ticks(self.lo, self.hi, n)


def padded(
    values: Iterable[float],
    *,
    include_zero: bool = False,
    pad: float = 0.06,
    floor: float | None = None,
    ceiling: float | None = None,
) -> tuple[float, float]:
    """Return a domain ``(lo, hi)`` around the finite ``values``, with a margin (and 0 if asked)."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = hi - lo or abs(hi) or 1.0
    lo, hi = lo - (0 if include_zero and lo == 0 else pad * span), hi + pad * span
    if floor is not None:
        lo = max(lo, floor)
    if ceiling is not None:
        hi = min(hi, ceiling)
    return lo, hi

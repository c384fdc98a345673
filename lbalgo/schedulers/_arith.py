"""Exact integer remainders by a run-time divisor, without the division instruction.

A 64-bit ``div`` costs 20 to 40 cycles, more than the rest of a hash
decision. With ``inv = 1.0 / d`` computed once per configuration::

    q = int(x * inv)          # floor(x / d), or one off: x * inv is within 2**-52 of x / d
    r = x - q * d             # so r is in [-d, 2d): one correction makes it exact
    if r < 0: r += d
    elif r >= d: r -= d

This is exact for ``0 <= x < 2**52`` and ``d >= 1`` (every caller hashes 32-bit
values or small sums).
"""

from __future__ import annotations

from .._jit import kernel


@kernel(inline="always")
def fast_mod(x, d, inv):
    """``x mod d`` for ``0 <= x < 2**52``, ``d >= 1``, ``inv = 1.0 / d``."""
    q = int(x * inv)
    r = x - q * d
    if r < 0:
        r += d
    elif r >= d:
        r -= d
    return r


def inverse(d: int) -> float:
    """Return the ``inv`` of :func:`fast_mod` for ``d`` (0.0 for ``d == 0``: callers never divide by 0)."""
    return 1.0 / d if d else 0.0

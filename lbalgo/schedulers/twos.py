"""twos: power of two choices, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_twos.c``, Linux >= 6.2).

State: a random generator (xoshiro128**, :mod:`lbalgo._rng`), seeded. ::

    pick():
        total = sum of weight over the backends that are not overloaded and
                have weight > 0 (none: no backend qualifies)
        total += 1
        r1 = uniform in [0, total); r2 = uniform in [0, total)
        walk those backends in list order, subtracting weight from r1 and r2:
            choice1 = the first backend where r1 <= 0
            choice2 = the first backend where r2 <= 0
        if weight(choice2) * overhead(choice1) > weight(choice1) * overhead(choice2):
            return choice2
        return choice1

with ``overhead = active * 256 + inactive``. The ``+ 1`` makes the draw
inclusive of ``sum(w)``, so the first candidate is drawn with probability
``(w1 + 1) / (sum(w) + 1)`` and candidate k > 1 with ``wk / (sum(w) + 1)``.
The two draws are independent and may give the same backend; ties go to
choice1. IPVS draws with ``get_random_u32_below`` (older trees:
``prandom_u32() % total``); lbalgo draws with Lemire's unbiased method from
its own seeded generator, so it matches IPVS's distribution, not its
stream. IPVS multiplies in 32-bit ``int``; lbalgo in 64 bits, as
everywhere else (they differ only once ``weight * overhead`` exceeds 2**31).
"""

from __future__ import annotations

import numpy as np

from .. import _rng
from .._jit import kernel
from .._rng import below
from .._table import ACTIVE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT, account_at, listed
from .base import Scheduler, no_change
from .registry import register

# state layout: the generator, state[0:4] (lbalgo._rng works on it in place)
RNG = 0


@kernel(inline="always")
def twos_decide(state, weight, flags, active, inactive, n):
    """Return the slot IPVS twos picks, or -1: of two weighted draws, the less loaded per weight."""
    total = 0
    for s in range(n):
        w = weight[s]
        if not flags[s] & F_OVERLOAD and w > 0:
            total += w
    choice = -1
    if total > 0:
        total += 1
        r1 = below(state, total)
        r2 = below(state, total)
        # r - (w_1 + ... + w_k) <= 0  <=>  w_1 + ... + w_k >= r: one running sum serves both.
        first = r1 if r1 < r2 else r2
        second = r1 + r2 - first
        acc = 0
        s = 0
        while s < n:
            w = weight[s]
            if w > 0 and not flags[s] & F_OVERLOAD:
                acc += w
                if acc >= first:
                    break
            s += 1
        low = s
        while acc < second:
            s += 1
            w = weight[s]
            if w > 0 and not flags[s] & F_OVERLOAD:
                acc += w
        high = s
        if r1 <= r2:
            choice1, choice2 = low, high
        else:
            choice1, choice2 = high, low
        oh1 = (active[choice1] << 8) + inactive[choice1]
        oh2 = (active[choice2] << 8) + inactive[choice2]
        # Strict: on equal load per weight choice1 stays.
        choice = choice2 if weight[choice2] * oh1 > weight[choice1] * oh2 else choice1
    return choice


@kernel(signature="schedule", refcount=False)
def twos_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`twos_decide`; return the last backend (-1: none).

    ``state`` is the generator, int64[4]; ``fstate``, ``keys`` and ``times`` are unused.
    """
    weight = table[WEIGHT]
    flags = table[FLAGS]
    active = table[ACTIVE]
    inactive = table[INACTIVE]
    n = listed(table)
    backend = -1
    for i in range(first, last):
        backend = account_at(table, twos_decide(state, weight, flags, active, inactive, n), mode)
        out[i] = backend
    return backend


@register
class TWOS(Scheduler):
    """Power of two choices (IPVS ``twos``): two weighted draws, the less loaded wins.

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; 0 quiesces a backend. See
        :class:`~lbalgo.schedulers.base.Scheduler`.
    seed : int
        Seed of the generator; the same seed gives the same picks.
    """

    name = "twos"
    summary = "power of two choices: two weighted draws (first backend w+1), least overhead/weight wins"
    source = "Linux IPVS ip_vs_twos.c"
    randomized = True
    scans_pool = True

    _schedule = twos_schedule
    _changed = no_change  # IPVS twos has no add / delete / update hooks

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        return _rng.new_state(self.seed), np.zeros(0, dtype=np.float64)

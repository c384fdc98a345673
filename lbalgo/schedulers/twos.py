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
choice1. The kernel draws with ``get_random_u32_below`` (older trees:
``prandom_u32() % total``); lbalgo draws with Lemire's unbiased method from
its own seeded generator, so it matches the kernel's distribution, not its
stream. The kernel multiplies in 32-bit ``int``; lbalgo in 64 bits, as
everywhere else (they differ only once ``weight * overhead`` exceeds 2**31).
"""

from __future__ import annotations

from .. import _rng
from .._jit import kernel
from .._rng import below
from .._table import ACTIVE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT
from .base import Scheduler, schedule_batch, schedule_one
from .registry import register


@kernel(refcount=False)
def twos_pick(table, order, state, key, now):
    """``state`` is the generator, int64[4]. One exit: an early return slows Numba's loops."""
    n = order[0]
    total = 0
    for pos in range(1, n + 1):
        backend = order[pos]
        if not table[backend, FLAGS] & F_OVERLOAD and table[backend, WEIGHT] > 0:
            total += table[backend, WEIGHT]
    choice = -1
    if total > 0:
        total += 1
        r1 = below(state, total)
        r2 = below(state, total)
        # r - (w_1 + ... + w_k) <= 0  <=>  w_1 + ... + w_k >= r: one running sum serves both.
        first = r1 if r1 < r2 else r2
        second = r1 + r2 - first
        acc = 0
        pos = 1
        while pos <= n:
            backend = order[pos]
            w = table[backend, WEIGHT]
            if w > 0 and not table[backend, FLAGS] & F_OVERLOAD:
                acc += w
                if acc >= first:
                    break
            pos += 1
        low = order[pos]
        while acc < second:
            pos += 1
            backend = order[pos]
            w = table[backend, WEIGHT]
            if w > 0 and not table[backend, FLAGS] & F_OVERLOAD:
                acc += w
        high = order[pos]
        if r1 <= r2:
            choice1, choice2 = low, high
        else:
            choice1, choice2 = high, low
        oh1 = (table[choice1, ACTIVE] << 8) + table[choice1, INACTIVE]
        oh2 = (table[choice2, ACTIVE] << 8) + table[choice2, INACTIVE]
        # Strict: on equal load per weight choice1 stays.
        choice = choice2 if table[choice2, WEIGHT] * oh1 > table[choice1, WEIGHT] * oh2 else choice1
    return choice


@kernel
def twos_changed(table, order, state, event, pos):
    """IPVS twos has no add / delete / update hooks."""


@kernel
def _twos_one(table, order, state, key, now, as_active):
    return schedule_one(twos_pick, table, order, state, key, now, as_active)


@kernel
def _twos_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(twos_pick, table, order, state, keys, times, now, as_active, out)


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

    _pick = twos_pick
    _changed = twos_changed
    _schedule_one = _twos_one
    _schedule_batch = _twos_batch

    def _new_state(self):
        return _rng.new_state(self.seed)

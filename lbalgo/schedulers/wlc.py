"""wlc: weighted least connection, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_wlc.c``).

Stateless. A backend's load is ``overhead / weight`` with
``overhead = active * 256 + inactive``, compared without division. ::

    pick():
        least = the first backend in list order that is not overloaded and
                has weight > 0 (none: no backend qualifies)
        for each later backend that is not overloaded:
            if overhead(least) * weight(backend) > overhead(backend) * weight(least):
                least = backend
        return least

The products are 64-bit. The comparison is strict, so ties keep the earlier
backend. The later loop does not test the weight: a weight-0 backend gives
``overhead(least) * 0 > overhead(backend) * weight(least)``, which is never
true, so it never wins. With equal weights wlc chooses exactly as lc.

``WLC(weights, index="tree")`` makes the same decisions in O(log n); see
:mod:`lbalgo.schedulers.indexed`.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT
from .base import schedule_batch, schedule_one
from .indexed import LeastConnectionBase
from .registry import register


@kernel(refcount=False)
def wlc_pick(table, order, state, key, now):
    """Stateless (``state`` is unused)."""
    return wlc_scan(table, order)


@kernel(refcount=False)
def wlc_scan(table, order):
    """IPVS wlc over the list (-1: none); also the fallback of lblc and lblcr.

    One exit: an early return slows Numba's loop.
    """
    n = order[0]
    pos = 1
    while pos <= n:
        backend = order[pos]
        if table[backend, WEIGHT] > 0 and not table[backend, FLAGS] & F_OVERLOAD:
            break
        pos += 1
    least = -1
    loh = 0
    lw = 0
    if pos <= n:
        least = order[pos]
        loh = (table[least, ACTIVE] << 8) + table[least, INACTIVE]
        lw = table[least, WEIGHT]
    for q in range(pos + 1, n + 1):
        backend = order[q]
        if table[backend, FLAGS] & F_OVERLOAD:
            continue
        doh = (table[backend, ACTIVE] << 8) + table[backend, INACTIVE]
        w = table[backend, WEIGHT]
        # loh/lw > doh/w without division: exact, and ties keep the earlier backend.
        if loh * w > doh * lw:
            least = backend
            loh = doh
            lw = w
    return least


@kernel
def _wlc_one(table, order, state, key, now, as_active):
    return schedule_one(wlc_pick, table, order, state, key, now, as_active)


@kernel
def _wlc_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(wlc_pick, table, order, state, keys, times, now, as_active, out)


@register
class WLC(LeastConnectionBase):
    """Weighted least connection (IPVS ``wlc``): the smallest overhead / weight.

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; 0 quiesces a backend. See
        :class:`~lbalgo.schedulers.base.Scheduler`.
    index : {"scan", "tree"}
        "scan" (default) is the IPVS walk; "tree" gives the same decisions
        in O(log n) (:mod:`lbalgo.schedulers.indexed`).
    """

    name = "wlc"
    summary = "weighted least connection: smallest (active*256 + inactive) / weight"
    source = "Linux IPVS ip_vs_wlc.c"

    _weighted = True
    _pick = wlc_pick
    _schedule_one = _wlc_one
    _schedule_batch = _wlc_batch

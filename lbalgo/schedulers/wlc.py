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
:mod:`lbalgo.schedulers.least_connection`.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT, account_at, listed
from .least_connection import LeastConnectionBase
from .registry import register


@kernel(inline="always")
def wlc_scan(table):
    """Return the slot of the backend IPVS wlc picks, or -1; also the fallback of lblc and lblcr."""
    weight = table[WEIGHT]
    flags = table[FLAGS]
    active = table[ACTIVE]
    inactive = table[INACTIVE]
    n = listed(table)
    s = 0
    while s < n and (weight[s] == 0 or flags[s] & F_OVERLOAD):
        s += 1
    least = -1
    loh = 0
    lw = 0
    if s < n:
        least = s
        loh = (active[s] << 8) + inactive[s]
        lw = weight[s]
    for q in range(s + 1, n):
        if flags[q] & F_OVERLOAD:
            continue
        doh = (active[q] << 8) + inactive[q]
        w = weight[q]
        # loh/lw > doh/w without division: exact, and ties keep the earlier backend.
        if loh * w > doh * lw:
            least = q
            loh = doh
            lw = w
    return least


@kernel(signature="schedule", refcount=False)
def wlc_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`wlc_scan`; return the last backend (-1: none).

    Each connection's backend id goes to ``out`` and is counted; wlc keeps
    no state of its own, so ``state``, ``fstate``, ``keys`` and ``times`` are unused.
    """
    backend = -1
    for i in range(first, last):
        backend = account_at(table, wlc_scan(table), mode)
        out[i] = backend
    return backend


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
        in O(log n) (:mod:`lbalgo.schedulers.least_connection`).
    """

    name = "wlc"
    summary = "weighted least connection: smallest (active*256 + inactive) / weight"
    source = "Linux IPVS ip_vs_wlc.c"

    _weighted = True
    _schedule = wlc_schedule

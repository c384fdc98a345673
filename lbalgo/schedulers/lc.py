"""lc: least connection, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_lc.c``).

Stateless. The load of a backend is its connection overhead
``active * 256 + inactive`` (``ip_vs_dest_conn_overhead``: an active
connection weighs 256 inactive ones). ::

    pick():
        least = none
        for each backend in list order:
            skip it if it is overloaded or has weight 0
            if least is none or overhead(backend) < overhead(least):
                least = backend
        return least (none: no backend qualifies)

The comparison is strict, so ties go to the earlier backend in list order,
which is the most recently added one (IPVS links new backends at the head).
The weight only switches a backend on or off. With ``new_conns="inactive"``
(UDP, or TCP before the handshake completes) every connection weighs 1.

``LC(weights, index="tree")`` makes the same decisions in O(log n); see
:mod:`lbalgo.schedulers.least_connection`.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT, account_at, listed
from .least_connection import LeastConnectionBase
from .registry import register


@kernel(inline="always")
def lc_scan(table):
    """Return the slot of the backend IPVS lc picks, or -1: the first smallest overhead in list order."""
    weight = table[WEIGHT]
    flags = table[FLAGS]
    active = table[ACTIVE]
    inactive = table[INACTIVE]
    least = -1
    loh = 0
    for s in range(listed(table)):
        if weight[s] == 0 or flags[s] & F_OVERLOAD:
            continue
        doh = (active[s] << 8) + inactive[s]
        # Strict: an equal overhead keeps the earlier backend.
        if least < 0 or doh < loh:
            least = s
            loh = doh
    return least


@kernel(signature="schedule", refcount=False)
def lc_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`lc_scan`; return the last backend (-1: none).

    Each connection's backend id goes to ``out`` and is counted; lc keeps
    no state of its own, so ``state``, ``fstate``, ``keys`` and ``times`` are unused.
    """
    backend = -1
    for i in range(first, last):
        backend = account_at(table, lc_scan(table), mode)
        out[i] = backend
    return backend


@register
class LC(LeastConnectionBase):
    """Least connection (IPVS ``lc``): the backend with the smallest overhead.

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; 0 quiesces a backend, other values are
        equivalent. See :class:`~lbalgo.schedulers.base.Scheduler`.
    index : {"scan", "tree"}
        "scan" (default) is the IPVS walk; "tree" gives the same decisions
        in O(log n) (:mod:`lbalgo.schedulers.least_connection`).
    """

    name = "lc"
    summary = "least connection: smallest active*256 + inactive, ties to the earlier backend"
    source = "Linux IPVS ip_vs_lc.c"

    _weighted = False
    _schedule = lc_schedule

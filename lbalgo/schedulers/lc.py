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
:mod:`lbalgo.schedulers.indexed`.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT
from .base import schedule_batch, schedule_one
from .indexed import LeastConnectionBase
from .registry import register


@kernel(refcount=False)
def lc_pick(table, order, state, key, now):
    """Stateless (``state`` is unused)."""
    least = -1
    loh = 0
    for pos in range(1, order[0] + 1):
        backend = order[pos]
        if table[backend, WEIGHT] == 0 or table[backend, FLAGS] & F_OVERLOAD:
            continue
        doh = (table[backend, ACTIVE] << 8) + table[backend, INACTIVE]
        # Strict: an equal overhead keeps the earlier backend.
        if least < 0 or doh < loh:
            least = backend
            loh = doh
    return least


@kernel
def _lc_one(table, order, state, key, now, as_active):
    return schedule_one(lc_pick, table, order, state, key, now, as_active)


@kernel
def _lc_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(lc_pick, table, order, state, keys, times, now, as_active, out)


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
        in O(log n) (:mod:`lbalgo.schedulers.indexed`).
    """

    name = "lc"
    summary = "least connection: smallest active*256 + inactive, ties to the earlier backend"
    source = "Linux IPVS ip_vs_lc.c"

    _weighted = False
    _pick = lc_pick
    _schedule_one = _lc_one
    _schedule_batch = _lc_batch

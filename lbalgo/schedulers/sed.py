"""sed and nq: shortest expected delay and never queue, as Linux IPVS does them.

Both are stateless and count only ACTIVE connections: the expected delay of
a new connection on a backend is ``(active + 1) / weight``, compared without
division (64-bit products).

sed (``net/netfilter/ipvs/ip_vs_sed.c``) is wlc's walk with that overhead::

    pick():
        least = the first backend in list order that is not overloaded and
                has weight > 0 (none: no backend qualifies)
        for each later backend that is not overloaded:
            if (active(least) + 1) * weight(backend) > (active(backend) + 1) * weight(least):
                least = backend
        return least

nq (``net/netfilter/ipvs/ip_vs_nq.c``) sends the connection to an idle
backend if there is one, else does what sed does::

    pick():
        least = none
        for each backend in list order:
            skip it if it is overloaded or has weight 0
            if active(backend) == 0: return backend          (first idle one)
            if least is none or (active(least) + 1) * weight(backend)
                                > (active(backend) + 1) * weight(least):
                least = backend
        return least

Ties keep the earlier backend (strict ``>``); a weight-0 backend never wins.
Inactive connections are invisible to both, so with ``new_conns="inactive"``
(UDP: connections never become active) sed always returns the first backend
with the highest weight and nq always the first backend with weight > 0
that is not overloaded.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_OVERLOAD, FLAGS, WEIGHT
from .base import StatelessScheduler, schedule_batch, schedule_one
from .registry import register


@kernel(refcount=False)
def sed_pick(table, order, state, key, now):
    """Stateless (``state`` is unused). One exit: an early return slows Numba's loop."""
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
        loh = table[least, ACTIVE] + 1
        lw = table[least, WEIGHT]
    for q in range(pos + 1, n + 1):
        backend = order[q]
        if table[backend, FLAGS] & F_OVERLOAD:
            continue
        doh = table[backend, ACTIVE] + 1
        w = table[backend, WEIGHT]
        if loh * w > doh * lw:
            least = backend
            loh = doh
            lw = w
    return least


@kernel(refcount=False)
def nq_pick(table, order, state, key, now):
    """Stateless (``state`` is unused). One exit: an early return slows Numba's loop."""
    least = -1
    loh = 0
    lw = 0
    for pos in range(1, order[0] + 1):
        backend = order[pos]
        w = table[backend, WEIGHT]
        if w == 0 or table[backend, FLAGS] & F_OVERLOAD:
            continue
        active = table[backend, ACTIVE]
        if active == 0:
            least = backend  # an idle backend beats any busy one found before it
            break
        doh = active + 1
        if least < 0 or loh * w > doh * lw:
            least = backend
            loh = doh
            lw = w
    return least


@kernel
def _sed_one(table, order, state, key, now, as_active):
    return schedule_one(sed_pick, table, order, state, key, now, as_active)


@kernel
def _sed_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(sed_pick, table, order, state, keys, times, now, as_active, out)


@kernel
def _nq_one(table, order, state, key, now, as_active):
    return schedule_one(nq_pick, table, order, state, key, now, as_active)


@kernel
def _nq_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(nq_pick, table, order, state, keys, times, now, as_active, out)


@register
class SED(StatelessScheduler):
    """Shortest expected delay (IPVS ``sed``): the smallest (active + 1) / weight."""

    name = "sed"
    summary = "shortest expected delay: smallest (active + 1) / weight; inactive ignored"
    source = "Linux IPVS ip_vs_sed.c"

    _pick = sed_pick
    _schedule_one = _sed_one
    _schedule_batch = _sed_batch


@register
class NQ(StatelessScheduler):
    """Never queue (IPVS ``nq``): the first idle backend, else as :class:`SED`."""

    name = "nq"
    summary = "never queue: first backend with no active connection, else shortest expected delay"
    source = "Linux IPVS ip_vs_nq.c"

    _pick = nq_pick
    _schedule_one = _nq_one
    _schedule_batch = _nq_batch

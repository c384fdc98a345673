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
from .._table import ACTIVE, F_OVERLOAD, FLAGS, WEIGHT, account_at, listed
from .base import StatelessScheduler
from .registry import register


@kernel(inline="always")
def sed_scan(weight, flags, active, n):
    """Return the slot IPVS sed picks, or -1: the first smallest ``(active + 1) / weight``."""
    s = 0
    while s < n and (weight[s] == 0 or flags[s] & F_OVERLOAD):
        s += 1
    least = -1
    loh = 0
    lw = 0
    if s < n:
        least = s
        loh = active[s] + 1
        lw = weight[s]
    for q in range(s + 1, n):
        if flags[q] & F_OVERLOAD:
            continue
        doh = active[q] + 1
        w = weight[q]
        if loh * w > doh * lw:
            least = q
            loh = doh
            lw = w
    return least


@kernel(inline="always")
def nq_scan(weight, flags, active, n):
    """Return the slot IPVS nq picks, or -1: the first idle backend, else sed's choice."""
    least = -1
    loh = 0
    lw = 0
    for s in range(n):
        w = weight[s]
        if w == 0 or flags[s] & F_OVERLOAD:
            continue
        a = active[s]
        if a == 0:
            least = s  # an idle backend beats any busy one found before it
            break
        doh = a + 1
        if least < 0 or loh * w > doh * lw:
            least = s
            loh = doh
            lw = w
    return least


@kernel(signature="schedule", refcount=False)
def sed_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`sed_scan`; return the last backend (-1: none).

    Each connection's backend id goes to ``out`` and is counted; sed keeps
    no state of its own, so ``state``, ``fstate``, ``keys`` and ``times`` are unused.
    """
    weight = table[WEIGHT]
    flags = table[FLAGS]
    active = table[ACTIVE]
    n = listed(table)
    backend = -1
    for i in range(first, last):
        backend = account_at(table, sed_scan(weight, flags, active, n), mode)
        out[i] = backend
    return backend


@kernel(signature="schedule", refcount=False)
def nq_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`nq_scan`; return the last backend (-1: none).

    Each connection's backend id goes to ``out`` and is counted; nq keeps
    no state of its own, so ``state``, ``fstate``, ``keys`` and ``times`` are unused.
    """
    weight = table[WEIGHT]
    flags = table[FLAGS]
    active = table[ACTIVE]
    n = listed(table)
    backend = -1
    for i in range(first, last):
        backend = account_at(table, nq_scan(weight, flags, active, n), mode)
        out[i] = backend
    return backend


@register
class SED(StatelessScheduler):
    """Shortest expected delay (IPVS ``sed``): the smallest (active + 1) / weight."""

    name = "sed"
    summary = "shortest expected delay: smallest (active + 1) / weight; inactive ignored"
    source = "Linux IPVS ip_vs_sed.c"
    scans_pool = True

    _schedule = sed_schedule


@register
class NQ(StatelessScheduler):
    """Never queue (IPVS ``nq``): the first idle backend, else as :class:`SED`."""

    name = "nq"
    summary = "never queue: first backend with no active connection, else shortest expected delay"
    source = "Linux IPVS ip_vs_nq.c"
    scans_pool = True

    _schedule = nq_schedule

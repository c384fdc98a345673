"""fo and ovf: weighted fail-over and overflow, as Linux IPVS does them.

Both are stateless and return the backend with the highest weight; ties go
to the earlier backend in list order (strict ``>``), weight 0 never
qualifies, and overloaded backends are skipped.

fo (``net/netfilter/ipvs/ip_vs_fo.c``) reads no counters::

    pick():
        best = none; hw = 0
        for each backend in list order that is not overloaded:
            if weight(backend) > hw: best = backend; hw = weight(backend)
        return best

ovf (``net/netfilter/ipvs/ip_vs_ovf.c``) treats the weight as a capacity in
ACTIVE connections::

    pick():
        best = none; hw = 0
        for each backend in list order:
            skip it if it is overloaded, has weight 0, or active(backend) > weight(backend)
            if best is none or weight(backend) > hw: best = backend; hw = weight(backend)
        return best

A backend is still eligible with ``active == weight``, so it takes up to
``weight + 1`` active connections before ovf overflows to the next one.
Inactive connections are invisible: with ``new_conns="inactive"`` (UDP) ovf
never overflows and behaves exactly like fo.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_OVERLOAD, FLAGS, WEIGHT, account_at, listed
from .base import StatelessScheduler
from .registry import register


@kernel(inline="always")
def fo_scan(weight, flags, n):
    """Return the slot IPVS fo picks, or -1: the first backend of highest weight that is not overloaded."""
    best = -1
    hw = 0
    for s in range(n):
        w = weight[s]
        if w > hw and not flags[s] & F_OVERLOAD:
            best = s
            hw = w
    return best


@kernel(inline="always")
def ovf_scan(weight, flags, active, n):
    """Return the slot IPVS ovf picks, or -1: the first of highest weight with ``active <= weight``."""
    best = -1
    hw = 0
    for s in range(n):
        w = weight[s]
        if w == 0 or flags[s] & F_OVERLOAD or active[s] > w:
            continue
        if best < 0 or w > hw:
            best = s
            hw = w
    return best


@kernel(signature="schedule", refcount=False)
def fo_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`fo_scan`; return the last backend (-1: none).

    Each connection's backend id goes to ``out`` and is counted; fo keeps
    no state of its own, so ``state``, ``fstate``, ``keys`` and ``times`` are unused.
    """
    weight = table[WEIGHT]
    flags = table[FLAGS]
    n = listed(table)
    backend = -1
    for i in range(first, last):
        backend = account_at(table, fo_scan(weight, flags, n), mode)
        out[i] = backend
    return backend


@kernel(signature="schedule", refcount=False)
def ovf_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule connections ``first .. last-1`` by :func:`ovf_scan`; return the last backend (-1: none).

    Each connection's backend id goes to ``out`` and is counted; ovf keeps
    no state of its own, so ``state``, ``fstate``, ``keys`` and ``times`` are unused.
    """
    weight = table[WEIGHT]
    flags = table[FLAGS]
    active = table[ACTIVE]
    n = listed(table)
    backend = -1
    for i in range(first, last):
        backend = account_at(table, ovf_scan(weight, flags, active, n), mode)
        out[i] = backend
    return backend


@register
class FO(StatelessScheduler):
    """Weighted fail-over (IPVS ``fo``): the highest weight that is not overloaded."""

    name = "fo"
    summary = "weighted fail-over: highest weight not overloaded, ties to the earlier backend"
    source = "Linux IPVS ip_vs_fo.c"
    scans_pool = True

    _schedule = fo_schedule


@register
class OVF(StatelessScheduler):
    """Overflow (IPVS ``ovf``): the highest weight with ``active <= weight``."""

    name = "ovf"
    summary = "overflow: highest weight whose active connections do not exceed its weight"
    source = "Linux IPVS ip_vs_ovf.c"
    scans_pool = True

    _schedule = ovf_schedule

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
from .._table import ACTIVE, F_OVERLOAD, FLAGS, WEIGHT
from .base import StatelessScheduler, schedule_batch, schedule_one
from .registry import register


@kernel(refcount=False)
def fo_pick(table, order, state, key, now):
    """Stateless (``state`` is unused)."""
    best = -1
    hw = 0
    for pos in range(1, order[0] + 1):
        backend = order[pos]
        w = table[backend, WEIGHT]
        if w > hw and not table[backend, FLAGS] & F_OVERLOAD:
            best = backend
            hw = w
    return best


@kernel(refcount=False)
def ovf_pick(table, order, state, key, now):
    """Stateless (``state`` is unused)."""
    best = -1
    hw = 0
    for pos in range(1, order[0] + 1):
        backend = order[pos]
        w = table[backend, WEIGHT]
        if w == 0 or table[backend, FLAGS] & F_OVERLOAD or table[backend, ACTIVE] > w:
            continue
        if best < 0 or w > hw:
            best = backend
            hw = w
    return best


@kernel
def _fo_one(table, order, state, key, now, as_active):
    return schedule_one(fo_pick, table, order, state, key, now, as_active)


@kernel
def _fo_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(fo_pick, table, order, state, keys, times, now, as_active, out)


@kernel
def _ovf_one(table, order, state, key, now, as_active):
    return schedule_one(ovf_pick, table, order, state, key, now, as_active)


@kernel
def _ovf_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(ovf_pick, table, order, state, keys, times, now, as_active, out)


@register
class FO(StatelessScheduler):
    """Weighted fail-over (IPVS ``fo``): the highest weight that is not overloaded."""

    name = "fo"
    summary = "weighted fail-over: highest weight not overloaded, ties to the earlier backend"
    source = "Linux IPVS ip_vs_fo.c"

    _pick = fo_pick
    _schedule_one = _fo_one
    _schedule_batch = _fo_batch


@register
class OVF(StatelessScheduler):
    """Overflow (IPVS ``ovf``): the highest weight with ``active <= weight``."""

    name = "ovf"
    summary = "overflow: highest weight whose active connections do not exceed its weight"
    source = "Linux IPVS ip_vs_ovf.c"

    _pick = ovf_pick
    _schedule_one = _ovf_one
    _schedule_batch = _ovf_batch

"""wrr: weighted round robin, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_wrr.c``).

State: cursor ``cl`` (list position of the last choice, 0 = head), current
weight ``cw``, ``di`` = gcd of the positive weights, ``mw`` = max weight
- (di - 1). ::

    pick():
        if mw == 0: nothing
        walk the list from the cursor; at the end of each pass lower cw by di
        (below 1: back to mw); take the first backend that is not overloaded
        and has weight >= cw
        give up after one complete pass with cw <= di found nothing

So weights 4, 3, 2 give ``0 0 1 0 1 2 0 1 2`` (passes with cw = 4, 3, 2, 1).

Every add, delete and edit (even one that changes nothing) runs the same
reset: cursor back to the head, ``di``/``mw`` recomputed, and ``cw`` kept
unless it is now above ``mw`` or 0 (then ``mw``), else snapped to
``(cw // di) * di + 1`` when ``di > 1``.

A service that ``ipvsadm`` builds one destination at a time starts from an
empty list (``cw = 0``), and the first add sets ``cw = mw = 1``: its first
pass takes every backend once. ``WRR(..., incremental=True)`` reproduces
that; the default reproduces binding the scheduler to a complete list
(``cw = mw``), as ``ipvsadm -E`` does.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .._table import EV_ADD, F_OVERLOAD, FLAGS, WEIGHT, gcd_and_max
from .base import Scheduler, schedule_batch, schedule_one
from .registry import register

# state slots
CURSOR, CW, MW, DI = 0, 1, 2, 3


@kernel(refcount=False)
def wrr_pick(table, order, state, key, now):
    """``state`` is int64[4]: cursor position, cw, mw, di.

    Written with one exit: an early ``return`` makes Numba's code for this
    loop about eight times slower (measured; LLVM stops inlining it).
    """
    n = order[0]
    mw = state[MW]
    di = state[DI]
    cw = state[CW]
    last = state[CURSOR]
    pos = last
    stop = -1
    last_pass = False
    restarted = False
    found = -1  # list position of the choice
    give_up = mw == 0  # no backend with weight > 0: cursor stays where it is
    while found < 0 and not give_up:
        for p in range(pos + 1, n + 1):
            backend = order[p]
            if not table[backend, FLAGS] & F_OVERLOAD and table[backend, WEIGHT] >= cw:
                found = p
                break
            if p == stop:
                pos = p
                give_up = True
                break
        if found < 0 and not give_up:
            pos = 0
            cw -= di
            if cw <= 0:
                cw = mw
                # Stop once a full pass with cw <= di (every weight >= 1) found nothing.
                if last_pass or last == 0:
                    give_up = True
                restarted = True
            last_pass = cw <= di
            if last_pass and restarted and last != 0:
                # The first pass with cw <= di only covered backends after `last`;
                # finish it up to `last` and stop there.
                stop = last
    backend = -1
    if found >= 0:
        state[CURSOR] = found
        state[CW] = cw
        backend = order[found]
    elif mw != 0:
        state[CURSOR] = pos  # the stop backend, or the head
        state[CW] = cw
    return backend


@kernel
def wrr_changed(table, order, state, event, pos):
    """IPVS ``ip_vs_wrr_dest_changed``: the same reset for add, delete and edit."""
    gcd, max_weight = gcd_and_max(table, order, WEIGHT)
    di = gcd if gcd > 0 else 1
    mw = max_weight - (di - 1)
    state[CURSOR] = 0
    state[DI] = di
    state[MW] = mw
    cw = state[CW]
    if cw > mw or cw == 0:
        state[CW] = mw
    elif di > 1:
        state[CW] = (cw // di) * di + 1


@kernel(refcount=False)
def _wrr_one(table, order, state, key, now, as_active):
    return schedule_one(wrr_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _wrr_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(wrr_pick, table, order, state, keys, times, now, as_active, out)


@register
class WRR(Scheduler):
    """Weighted round robin (IPVS ``wrr``).

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; see :class:`~lbalgo.schedulers.base.Scheduler`.
    incremental : bool
        Start as a service built by adding its backends one at a time (the
        last backend of the list first, since IPVS inserts at the head):
        the first pass then serves every backend once. Default False: the
        scheduler is bound to the complete list and starts at ``cw = mw``.
    """

    name = "wrr"
    summary = "weighted round robin in passes of decreasing current weight"
    source = "Linux IPVS ip_vs_wrr.c"

    _pick = wrr_pick
    _changed = wrr_changed
    _schedule_one = _wrr_one
    _schedule_batch = _wrr_batch

    def __init__(self, weights=None, *, incremental: bool = False, **options) -> None:
        if not isinstance(incremental, (bool, np.bool_)):
            raise TypeError(f"incremental must be True or False, got {incremental!r}")
        self.incremental = bool(incremental)
        super().__init__(weights, **options)

    def _new_state(self) -> np.ndarray:
        # init_service on an empty list: di = 1, mw = 0, cw = mw = 0.
        state = np.array([0, 0, 0, 1], dtype=np.int64)
        order = self.pool.order
        n = int(order[0])
        if not self.incremental:
            wrr_changed(self.pool.table, order, state, EV_ADD, 1)
            state[CW] = state[MW]  # init_service: cw = mw
            return state
        partial = np.zeros_like(order)
        for k in range(n - 1, -1, -1):  # the list's last backend was added first
            partial[0] = n - k
            partial[1 : n - k + 1] = order[k + 1 : n + 1]
            wrr_changed(self.pool.table, partial, state, EV_ADD, 1)
        return state

    @property
    def current_weight(self) -> int:
        """The current weight threshold ``cw`` of the pass in progress."""
        return int(self.state[CW])

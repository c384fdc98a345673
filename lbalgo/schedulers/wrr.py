"""wrr: weighted round robin, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_wrr.c``).

State: cursor ``cl`` (slot of the last choice, -1 = head), current
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
from .._table import F_OVERLOAD, FLAGS, HEADER, LISTED, WEIGHT, account_at, gcd_and_max, listed
from .base import Scheduler
from .registry import register

# state slots
CURSOR, CW, MW, DI = 0, 1, 2, 3
HEAD = -1


@kernel(inline="always")
def wrr_decide(weight, flags, n, mw, di, cw, last):
    """One IPVS wrr decision from cursor ``last`` at current weight ``cw``.

    Returns ``(slot or -1, new cursor, new cw)``; with nothing to choose the
    cursor stays, or rests where IPVS gives up.
    """
    s = last
    stop = -1  # >= 0: the final pass ends at this slot
    last_pass = False
    restarted = False
    found = -1  # slot of the choice
    give_up = mw == 0  # no backend with weight > 0: cursor stays where it is
    while found < 0 and not give_up:
        end = n if stop < 0 else stop + 1
        p = s + 1
        while p < end:
            if weight[p] >= cw and not flags[p] & F_OVERLOAD:
                found = p
                break
            p += 1
        if found < 0:
            if stop >= 0:
                s = stop
                give_up = True
            else:
                s = HEAD
                cw -= di
                if cw <= 0:
                    cw = mw
                    # Stop once a full pass with cw <= di (every weight >= 1) found nothing.
                    if last_pass or last == HEAD:
                        give_up = True
                    restarted = True
                last_pass = cw <= di
                if last_pass and restarted and last != HEAD:
                    # The first pass with cw <= di only covered backends after `last`;
                    # finish it up to `last` and stop there.
                    stop = last
    if found >= 0:
        return found, found, cw
    if mw != 0:
        return -1, s, cw  # the stop backend, or the head
    return -1, last, cw


@kernel(signature="schedule", refcount=False)
def wrr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state`` is int64[4]: cursor slot, cw, mw, di."""
    weight = table[WEIGHT]
    flags = table[FLAGS]
    n = listed(table)
    mw = state[MW]
    di = state[DI]
    cursor = state[CURSOR]
    cw = state[CW]
    backend = -1
    for i in range(first, last):
        s, cursor, cw = wrr_decide(weight, flags, n, mw, di, cw, cursor)
        backend = account_at(table, s, mode)
        out[i] = backend
    state[CURSOR] = cursor
    state[CW] = cw
    return backend


@kernel(signature="changed")
def wrr_changed(table, state, fstate, event, where):
    """IPVS ``ip_vs_wrr_dest_changed``: the same reset for add, delete and edit."""
    wrr_reset(table, state)


@kernel
def wrr_reset(table, state):
    """Cursor to the head, ``di``/``mw`` recomputed, ``cw`` kept, capped or snapped."""
    gcd, max_weight = gcd_and_max(table, WEIGHT)
    di = gcd if gcd > 0 else 1
    mw = max_weight - (di - 1)
    state[CURSOR] = HEAD
    state[DI] = di
    state[MW] = mw
    cw = state[CW]
    if cw > mw or cw == 0:
        state[CW] = mw
    elif di > 1:
        state[CW] = (cw // di) * di + 1


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

    _schedule = wrr_schedule
    _changed = wrr_changed

    def __init__(self, weights=None, *, incremental: bool = False, **options) -> None:
        if not isinstance(incremental, (bool, np.bool_)):
            raise TypeError(f"incremental must be True or False, got {incremental!r}")
        self.incremental = bool(incremental)
        super().__init__(weights, **options)

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        # init_service on an empty list: di = 1, mw = 0, cw = mw = 0.
        state = np.array([HEAD, 0, 0, 1], dtype=np.int64)
        fstate = np.zeros(0, dtype=np.float64)
        table = self.pool.table
        if not self.incremental:
            wrr_reset(table, state)
            state[CW] = state[MW]  # init_service: cw = mw
            return state, fstate
        n = len(self.pool)
        partial = np.zeros_like(table)
        for k in range(n - 1, -1, -1):  # the list's last backend was added first
            partial[WEIGHT, : n - k] = table[WEIGHT, k:n]
            partial[HEADER, LISTED] = n - k
            wrr_reset(partial, state)
        return state, fstate

    @property
    def current_weight(self) -> int:
        """The current weight threshold ``cw`` of the pass in progress."""
        return int(self.state[CW])

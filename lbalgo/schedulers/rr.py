"""rr: round robin, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_rr.c``).

State: one cursor, the list position of the last chosen backend, or 0 (the
list head). ::

    pick():
        scan the backends after the cursor to the end of the list, then, if
        the cursor is not the head, from the first backend up to and
        including the cursor;
        take (and move the cursor to) the first with weight > 0 that is not
        overloaded; none: return nothing, cursor unchanged

Only weight 0 versus non-zero matters. A new backend lands at the head of
the list, so it is reached when the scan next wraps. Deleting the backend
under the cursor moves the cursor back one place, so the next pick is the
backend that followed it (``ip_vs_rr_del_dest``). Edits never move it.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .._table import EV_ADD, EV_DELETE, F_OVERLOAD, FLAGS, WEIGHT
from .base import Scheduler, schedule_batch, schedule_one
from .registry import register


@kernel(refcount=False)
def rr_pick(table, order, state, key, now):
    """``state[0]`` is the cursor position (0 = head)."""
    n = order[0]
    pos = state[0]
    for _ in range(n):
        pos += 1
        if pos > n:
            pos = 1
        backend = order[pos]
        if table[backend, WEIGHT] > 0 and not table[backend, FLAGS] & F_OVERLOAD:
            state[0] = pos
            return backend
    return -1


@kernel
def rr_changed(table, order, state, event, pos):
    """Keep the cursor on the same backend while positions shift."""
    cursor = state[0]
    if event == EV_ADD:
        if cursor >= pos and cursor != 0:
            state[0] = cursor + 1
    elif event == EV_DELETE:
        # On the deleted backend, or after it: step back one place.
        if cursor >= pos:
            state[0] = cursor - 1


@kernel(refcount=False)
def _rr_one(table, order, state, key, now, as_active):
    return schedule_one(rr_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _rr_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(rr_pick, table, order, state, keys, times, now, as_active, out)


@register
class RR(Scheduler):
    """Round robin over backends with weight > 0 (IPVS ``rr``)."""

    name = "rr"
    summary = "round robin; weight only switches a backend on or off"
    source = "Linux IPVS ip_vs_rr.c"

    _pick = rr_pick
    _changed = rr_changed
    _schedule_one = _rr_one
    _schedule_batch = _rr_batch

    def _new_state(self) -> np.ndarray:
        return np.zeros(1, dtype=np.int64)  # cursor at the head

    @property
    def cursor(self) -> int:
        """Id of the last chosen backend, or -1 while the cursor is at the list head."""
        pos = int(self.state[0])
        return int(self.pool.order[pos]) if pos else -1

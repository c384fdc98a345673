"""rr: round robin, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_rr.c``).

State: one cursor, the slot of the last chosen backend, or -1 (the list
head). ::

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
from .._table import BACKEND, EV_ADD, EV_DELETE, account_at, listed, usable
from .base import Scheduler
from .registry import register

CURSOR = 0  # state slot: slot of the last choice, -1 = the list head
HEAD = -1


@kernel(signature="schedule", refcount=False)
def rr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state[CURSOR]`` is the cursor."""
    n = listed(table)
    cursor = state[CURSOR]
    backend = -1
    for i in range(first, last):
        s = cursor
        chosen = -1
        for _ in range(n):
            s += 1
            if s == n:
                s = 0
            if usable(table, s):
                chosen = s
                cursor = s
                break
        backend = account_at(table, chosen, mode)
        out[i] = backend
    state[CURSOR] = cursor
    return backend


@kernel(signature="changed")
def rr_changed(table, state, fstate, event, where):
    """Keep the cursor on the same backend while slots shift."""
    cursor = state[CURSOR]
    if event == EV_ADD:
        if cursor >= where:
            state[CURSOR] = cursor + 1
    elif event == EV_DELETE:
        # On the deleted backend, or after it: step back one place.
        if cursor >= where:
            state[CURSOR] = cursor - 1


@register
class RR(Scheduler):
    """Round robin over backends with weight > 0 (IPVS ``rr``)."""

    name = "rr"
    summary = "round robin; weight only switches a backend on or off"
    source = "Linux IPVS ip_vs_rr.c"

    _schedule = rr_schedule
    _changed = rr_changed

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([HEAD], dtype=np.int64), np.zeros(0, dtype=np.float64)

    @property
    def cursor(self) -> int:
        """Id of the last chosen backend, or -1 while the cursor is at the list head."""
        s = int(self.state[CURSOR])
        return int(self.pool.table[BACKEND, s]) if s != HEAD else -1

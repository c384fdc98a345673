"""The base of lc and wlc, and its tree index: the IPVS linear-scan decision in O(log n).

:class:`LeastConnectionBase` gives :class:`~lbalgo.LC` and
:class:`~lbalgo.WLC` a choice of index. ``index="scan"`` (default) runs the
IPVS walk of :mod:`.lc` / :mod:`.wlc`. ``LC(weights, index="tree")`` and
``WLC(weights, index="tree")`` return exactly what the scan returns,
tie-breaks included, from a tournament tree over list positions.

Why a tree can be exact: both scans return the *first* backend, in list
order, whose load is minimal among the candidates (weight > 0, not
overloaded). lc compares ``overhead`` with ``<``; wlc compares
``overhead / weight`` by the cross-multiplication ``loh * w > doh * wl``
(a later weight-0 backend can never win, its left side is 0). For positive
weights that is a total preorder, so "first minimum" is an associative
operation: a node holds the winner of its two children, where the right
(later) child wins only if it is strictly better. The root is the scan's
answer. ::

    tree node k (leaves at size + slot): (overhead, weight, slot) of the
        winner of its subtree; weight 0 = no candidate
    combine(left, right): right if left is empty or
        left.overhead * right.weight > right.overhead * left.weight, else left
    pick():
        take the root's backend; count the connection; refresh its leaf
    refresh(slot): copy the backend's weight, flags and overhead into its
        leaf; recompute the ancestors until one does not change
    changed(event): EV_COUNTERS (a release, an activation, ... of backend b):
        refresh(slot of b); edit: refresh(slot); add / delete (slots shift):
        rebuild, O(n)

The tree keeps a snapshot of every leaf, so it is always a correct
tournament over its snapshot; it is exact as long as every counter change
is reported. It is: the scheduler watches the counters
(``watches_counters``), so the pool and the simulator report every move
they make through the ``changed`` hook. Counters changed behind the pool's
back (another scheduler binding on a shared pool) must be reported with
:meth:`LeastConnectionBase.counters_changed`.
"""


from __future__ import annotations

import numpy as np

from .._jit import kernel
from .._table import (
    ACTIVE,
    EV_COUNTERS,
    EV_UPDATE,
    F_OVERLOAD,
    FLAGS,
    HEADER,
    INACTIVE,
    LISTED,
    SLOT,
    WEIGHT,
    account_at,
    listed,
)
from .base import Scheduler, empty_state, no_change

# state slots, then the tree: node k holds (overhead, weight, slot) at TREE + 3 * k
SIZE, WEIGHTED, TREE = 0, 1, 2
OH, W, POS = 0, 1, 2

INDEXES = ("scan", "tree")


@kernel(inline="always")
def _combine(state, node):
    """Set ``node`` to the winner of its two children (the earlier wins ties); True if it changed."""
    at = TREE + 3 * node
    left = TREE + 6 * node
    right = left + 3
    lw = state[left + W]
    rw = state[right + W]
    if rw == 0 or (lw != 0 and state[left + OH] * rw <= state[right + OH] * lw):
        src = left
    else:
        src = right
    changed = (state[at + OH] != state[src + OH] or state[at + W] != state[src + W]
               or state[at + POS] != state[src + POS])
    state[at + OH] = state[src + OH]
    state[at + W] = state[src + W]
    state[at + POS] = state[src + POS]
    return changed


@kernel(inline="always")
def _set_leaf(table, state, s):
    """Copy the backend at slot ``s`` into its leaf; return the leaf's node."""
    node = state[SIZE] + s
    at = TREE + 3 * node
    weight = table[WEIGHT, s]
    state[at + POS] = s
    if weight > 0 and not table[FLAGS, s] & F_OVERLOAD:
        state[at + OH] = (table[ACTIVE, s] << 8) + table[INACTIVE, s]
        state[at + W] = weight if state[WEIGHTED] else 1
    else:
        state[at + OH] = 0
        state[at + W] = 0
    return node


@kernel(refcount=False)
def index_refresh(table, state, s):
    """Re-read the backend at slot ``s`` and fix its path to the root."""
    node = _set_leaf(table, state, s) >> 1
    while node >= 1:
        if not _combine(state, node):
            break
        node >>= 1


@kernel(refcount=False)
def index_build(table, state):
    """Rebuild the whole tree from the table, O(capacity)."""
    size = state[SIZE]
    n = listed(table)
    for s in range(n):
        _set_leaf(table, state, s)
    for node in range(size + n, 2 * size):
        at = TREE + 3 * node
        state[at + OH] = 0
        state[at + W] = 0
        state[at + POS] = 0
    for node in range(size - 1, 0, -1):
        _combine(state, node)


@kernel(signature="schedule", refcount=False)
def index_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule each connection on the root's backend, then refresh its leaf; return the last backend."""
    backend = -1
    for i in range(first, last):
        root = TREE + 3
        backend = -1
        if state[root + W] != 0:
            s = state[root + POS]
            backend = account_at(table, s, mode)
            index_refresh(table, state, s)
        out[i] = backend
    return backend


@kernel(signature="changed", refcount=False)
def index_changed(table, state, fstate, event, where):
    """Counters or an edit re-read one leaf; an add or delete shifts slots: rebuild."""
    if event == EV_COUNTERS:
        s = table[SLOT, where]
        if s < table[HEADER, LISTED]:  # a removed backend is not in the tree
            index_refresh(table, state, s)
    elif event == EV_UPDATE:
        index_refresh(table, state, where)
    else:
        index_build(table, state)


def new_index_state(table: np.ndarray, weighted: bool) -> np.ndarray:
    """Return a built tree state for ``table`` (sized for its capacity)."""
    capacity = table.shape[1]
    size = 1
    while size < capacity:
        size *= 2
    state = np.zeros(TREE + 3 * 2 * size, dtype=np.int64)
    state[SIZE] = size
    state[WEIGHTED] = 1 if weighted else 0
    index_build(table, state)
    return state


class LeastConnectionBase(Scheduler):
    """lc / wlc with a choice of index: the IPVS scan or an exact tournament tree.

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; see :class:`~lbalgo.schedulers.base.Scheduler`.
    index : {"scan", "tree"}
        "scan" (default): IPVS's linear walk, O(n) per connection. "tree":
        the same decisions in O(log n) (see :mod:`lbalgo.schedulers.least_connection`).
    """

    #: wlc compares overhead / weight; lc ignores the weight's magnitude.
    _weighted = False
    _changed = no_change  # the scan keeps no state (IPVS lc/wlc have no hooks)
    scans_pool = True

    def __init__(self, weights=None, *, index: str = "scan", **options) -> None:
        if index not in INDEXES:
            raise ValueError(f"index must be one of {INDEXES}, got {index!r}")
        self.index = index
        if index == "tree":
            self._schedule = index_schedule
            self._changed = index_changed
            self.watches_counters = True
            self.scans_pool = False
        super().__init__(weights, **options)

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        if self.index == "tree":
            return new_index_state(self.pool.table, self._weighted), np.zeros(0, dtype=np.float64)
        return empty_state()

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        return self._new_state()

    def counters_changed(self, backend: int) -> None:
        """Report that ``backend``'s counters changed behind the pool's back (tree index only).

        Not needed for changes made through the pool, this scheduler or the
        simulator: the pool reports those itself (``EV_COUNTERS`` to the
        schedulers that watch the counters).
        """
        b = self.pool.check_id(backend, listed=False)
        if self.index == "tree":
            self._changed.entry(self.pool.table, self.state, self.fstate, EV_COUNTERS, b)

    #: The former name of :meth:`counters_changed`, kept for existing callers.
    touch = counters_changed

    def resync(self) -> None:
        """Re-read every backend (after unreported counter changes)."""
        if self.index == "tree":
            index_build(self.pool.table, self.state)

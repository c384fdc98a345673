"""Indexed lc / wlc: the IPVS linear-scan decision in O(log n) per connection.

``LC(weights, index="tree")`` and ``WLC(weights, index="tree")`` return
exactly what the scan of :mod:`.lc` / :mod:`.wlc` returns, tie-breaks
included, from a tournament tree over list positions.

Why a tree can be exact: both scans return the *first* backend, in list
order, whose load is minimal among the candidates (weight > 0, not
overloaded). lc compares ``overhead`` with ``<``; wlc compares
``overhead / weight`` by the cross-multiplication ``loh * w > doh * wl``
(a later weight-0 backend can never win, its left side is 0). For positive
weights that is a total preorder, so "first minimum" is an associative
operation: a node holds the winner of its two children, where the right
(later) child wins only if it is strictly better. The root is the scan's
answer. ::

    tree node k (leaves at size + pos - 1): (overhead, weight, pos) of the
        winner of its subtree; weight 0 = no candidate
    combine(left, right): right if left is empty or
        left.overhead * right.weight > right.overhead * left.weight, else left
    pick():
        refresh the leaf of the backend returned by the previous pick
            (the driver counted a connection on it after we returned)
        refresh the leaves of backends named in the dirty buffer
            (released, activated, deactivated from Python)
        return the root's backend
    refresh(pos): copy the backend's weight, flags and overhead into its
        leaf; recompute the ancestors until one does not change
    add / delete (positions shift): rebuild, O(n); edit: refresh(pos)

The tree keeps a snapshot of every leaf, so it is always a correct
tournament over its snapshot; it is exact as long as every counter change
is reported: its own ``pick``/``pick_many`` (the previous pick), the pool's
``release``/``activate``/``deactivate`` (the dirty buffer), weight and
threshold edits, adds and removals (the ``changed`` hook). Counters changed
behind the pool's back (compiled code calling ``unbind``, another scheduler
binding on a shared pool) must be reported with
:meth:`LeastConnectionBase.touch` or the kernel :func:`index_touch`.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .._table import ACTIVE, EV_UPDATE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT
from .base import Scheduler, no_change, schedule_batch, schedule_one

# columns of the tree
OH, W, POS = 0, 1, 2
# meta slots
SIZE, WEIGHTED, LAST, NDIRTY, REBUILD = 0, 1, 2, 3, 4
#: Releases remembered between two picks before a full rebuild is cheaper.
DIRTY_CAPACITY = 64

INDEXES = ("scan", "tree")


@kernel(inline="always")
def _combine(tree, node):
    """Set ``tree[node]`` to the winner of its two children (earlier wins ties)."""
    left = 2 * node
    right = left + 1
    lw = tree[left, W]
    rw = tree[right, W]
    if rw == 0 or (lw != 0 and tree[left, OH] * rw <= tree[right, OH] * lw):
        src = left
    else:
        src = right
    changed = (tree[node, OH] != tree[src, OH] or tree[node, W] != tree[src, W]
               or tree[node, POS] != tree[src, POS])
    tree[node, OH] = tree[src, OH]
    tree[node, W] = tree[src, W]
    tree[node, POS] = tree[src, POS]
    return changed


@kernel(inline="always")
def _set_leaf(table, order, tree, meta, pos):
    """Copy the backend at list position ``pos`` into its leaf; return the leaf's node."""
    node = meta[SIZE] + pos - 1
    backend = order[pos]
    weight = table[backend, WEIGHT]
    tree[node, POS] = pos
    if weight > 0 and not table[backend, FLAGS] & F_OVERLOAD:
        tree[node, OH] = (table[backend, ACTIVE] << 8) + table[backend, INACTIVE]
        tree[node, W] = weight if meta[WEIGHTED] else 1
    else:
        tree[node, OH] = 0
        tree[node, W] = 0
    return node


@kernel(refcount=False)
def index_refresh(table, order, state, pos):
    """Re-read the backend at list position ``pos`` and fix its path to the root."""
    tree, pos_of, dirty, meta = state
    node = _set_leaf(table, order, tree, meta, pos) >> 1
    while node >= 1:
        if not _combine(tree, node):
            break
        node >>= 1


@kernel(refcount=False)
def index_build(table, order, state):
    """Rebuild the whole tree and the id -> position map from the table, O(capacity)."""
    tree, pos_of, dirty, meta = state
    size = meta[SIZE]
    n = order[0]
    for b in range(pos_of.shape[0]):
        pos_of[b] = 0
    for pos in range(1, n + 1):
        pos_of[order[pos]] = pos
        _set_leaf(table, order, tree, meta, pos)
    for node in range(size + n, 2 * size):
        tree[node, OH] = 0
        tree[node, W] = 0
        tree[node, POS] = 0
    for node in range(size - 1, 0, -1):
        _combine(tree, node)
    meta[NDIRTY] = 0
    meta[REBUILD] = 0


@kernel(refcount=False)
def index_touch(table, order, state, backend):
    """Report that ``backend``'s counters changed; the next pick re-reads it."""
    tree, pos_of, dirty, meta = state
    k = meta[NDIRTY]
    if k < dirty.shape[0]:
        dirty[k] = backend
        meta[NDIRTY] = k + 1
    else:
        meta[REBUILD] = 1


@kernel(refcount=False)
def index_pick(table, order, state, key, now):
    """``state`` = (tree int64[2*size, 3], pos_of int64[capacity], dirty int64[64], meta int64[5])."""
    tree, pos_of, dirty, meta = state
    if meta[REBUILD]:
        index_build(table, order, state)
    else:
        last = meta[LAST]
        if last >= 0 and pos_of[last] > 0:
            index_refresh(table, order, state, pos_of[last])
        for i in range(meta[NDIRTY]):
            pos = pos_of[dirty[i]]
            if pos > 0:  # a removed backend is not in the tree
                index_refresh(table, order, state, pos)
        meta[NDIRTY] = 0
    backend = -1
    if tree[1, W] != 0:
        backend = order[tree[1, POS]]
    # The driver counts the connection after we return: re-read it next time.
    meta[LAST] = backend
    return backend


@kernel
def index_changed(table, order, state, event, pos):
    """An edit re-reads one leaf; an add or delete shifts positions: rebuild."""
    if event == EV_UPDATE:
        index_refresh(table, order, state, pos)
    else:
        index_build(table, order, state)


@kernel
def _index_one(table, order, state, key, now, as_active):
    return schedule_one(index_pick, table, order, state, key, now, as_active)


@kernel
def _index_batch(table, order, state, keys, times, now, as_active, out):
    schedule_batch(index_pick, table, order, state, keys, times, now, as_active, out)


def new_index_state(table: np.ndarray, order: np.ndarray, weighted: bool) -> tuple[np.ndarray, ...]:
    """Return a built tree state for ``table`` (sized for its capacity)."""
    capacity = table.shape[0]
    size = 1
    while size < capacity:
        size *= 2
    meta = np.array([size, 1 if weighted else 0, -1, 0, 0], dtype=np.int64)
    state = (np.zeros((2 * size, 3), dtype=np.int64), np.zeros(capacity, dtype=np.int64),
             np.zeros(DIRTY_CAPACITY, dtype=np.int64), meta)
    index_build(table, order, state)
    return state


class LeastConnectionBase(Scheduler):
    """lc / wlc with a choice of index: the IPVS scan or an exact tournament tree.

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; see :class:`~lbalgo.schedulers.base.Scheduler`.
    index : {"scan", "tree"}
        "scan" (default): IPVS's linear walk, O(n) per connection. "tree":
        the same decisions in O(log n) (see :mod:`lbalgo.schedulers.indexed`).
        The tree hears of every counter change made through its pool;
        report others (compiled code calling ``unbind``) with :meth:`touch`
        or the kernel :func:`index_touch`.
    """

    #: wlc compares overhead / weight; lc ignores the weight's magnitude.
    _weighted = False
    _changed = no_change  # the scan keeps no state (IPVS lc/wlc have no hooks)

    def __init__(self, weights=None, *, index: str = "scan", **options) -> None:
        if index not in INDEXES:
            raise ValueError(f"index must be one of {INDEXES}, got {index!r}")
        self.index = index
        if index == "tree":
            self._pick = index_pick
            self._changed = index_changed
            self._schedule_one = _index_one
            self._schedule_batch = _index_batch
            # For compiled loops that move counters themselves (the simulator):
            # call it as ``_touch(table, order, state, backend)`` after each move.
            self._touch = index_touch
        super().__init__(weights, **options)
        if index == "tree":
            self.pool.subscribe_counters(self._counters_changed)

    def _new_state(self):
        if self.index == "tree":
            return new_index_state(self.pool.table, self.pool.order, self._weighted)
        return np.zeros(1, dtype=np.int64)

    def _resized_state(self, capacity: int):
        return self._new_state()

    def touch(self, backend: int) -> None:
        """Report that ``backend``'s counters changed behind the pool's back (tree index only).

        Not needed for changes made through the pool or this scheduler.
        """
        b = self.pool.check_id(backend, listed=False)
        self._counters_changed(b)

    def resync(self) -> None:
        """Re-read every backend at the next pick (after unreported counter changes)."""
        if self.index == "tree":
            self.state[3][REBUILD] = 1

    def _counters_changed(self, backend: int) -> None:
        if self.index == "tree":
            dirty, meta = self.state[2], self.state[3]
            k = int(meta[NDIRTY])
            if k < DIRTY_CAPACITY:
                dirty[k] = backend
                meta[NDIRTY] = k + 1
            else:
                meta[REBUILD] = 1

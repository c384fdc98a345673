"""Indexed binary min-heaps standing in for HAProxy's ebtrees (roundrobin, leastconn).

An ebtree with duplicate keys iterates in (key, insertion) order, and the
balancers only ever take its first element or delete a known one. A binary
heap ordered by ``prio = key << 31 | insertion`` (unique) gives the same
first element in O(log n), and a position row makes deleting any element
O(log n) too.

Layout: heap h is two rows of ``cap`` at ``REGION_AT + 2 * h * cap``: the
elements' priorities, then their backend ids (sifting reads priorities
side by side); its size is header field ``HSIZE + h``. Per-id rows
``ID_PRIO`` and ``ID_POS`` hold each element's priority and position. Insertion numbers come from the
header counter ``SEQ``; before it would pass 31 bits the live priorities are
renumbered in order (a monotone relabelling keeps every heap valid).
"""

from __future__ import annotations

from collections import namedtuple
from typing import ClassVar

import numpy as np

from ..._jit import kernel
from ._base import HAProxyScheduler
from ._servers import (
    ALGO,
    CAP,
    HEADER,
    ID_KEY,
    ID_POS,
    ID_PRIO,
    ID_SEQ,
    ID_TREE,
    NO_TREE,
    REGION_AT,
    REGION_LEN,
    SEQ,
)

HSIZE = ALGO + 8  # sizes of up to 6 heaps
SEQ_LIMIT = (1 << 31) - 1


#: Views of one state's heap rows, taken once per batch: ``region`` (every heap's two rows),
#: ``hsize`` (the sizes), ``prio`` and ``pos`` (per-id rows); ``cap`` is the row width.
Heaps = namedtuple("Heaps", "region hsize prio pos cap")


@kernel(inline="always")
def heap_views(state):
    """:data:`Heaps` over ``state``."""
    cap = state[CAP]
    at = state[REGION_AT]
    return Heaps(state[at: at + state[REGION_LEN]], state[HSIZE: HSIZE + 6],
                 state[HEADER + ID_PRIO * cap: HEADER + (ID_PRIO + 1) * cap],
                 state[HEADER + ID_POS * cap: HEADER + (ID_POS + 1) * cap], cap)


@kernel(inline="always")
def top(v, h):
    """Return the element with the smallest priority in heap ``h``, or -1."""
    if v.hsize[h] == 0:
        return -1
    return v.region[(2 * h + 1) * v.cap]


@kernel(inline="always")
def _sift_up(v, keys, i, b, pb):
    """Move the hole at ``i`` of the heap at ``keys`` up while the parent is larger; put ``b`` there."""
    ids = keys + v.cap
    r = v.region
    while i > 0:
        parent = (i - 1) >> 1
        if r[keys + parent] < pb:
            break
        c = r[ids + parent]
        r[keys + i] = r[keys + parent]
        r[ids + i] = c
        v.pos[c] = i
        i = parent
    r[keys + i] = pb
    r[ids + i] = b
    v.pos[b] = i


@kernel(inline="always")
def _sift_down(v, keys, n, i, b, pb):
    """Move the hole at ``i`` down while a child is smaller; put ``b`` (priority ``pb``) there."""
    ids = keys + v.cap
    r = v.region
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        pc = r[keys + child]
        if child + 1 < n and r[keys + child + 1] < pc:
            child += 1
            pc = r[keys + child]
        if pb < pc:
            break
        c = r[ids + child]
        r[keys + i] = pc
        r[ids + i] = c
        v.pos[c] = i
        i = child
    r[keys + i] = pb
    r[ids + i] = b
    v.pos[b] = i


@kernel(inline="always")
def push(v, h, b):
    """Insert backend ``b`` (its priority set) into heap ``h``."""
    i = v.hsize[h]
    v.hsize[h] = i + 1
    _sift_up(v, 2 * h * v.cap, i, b, v.prio[b])


@kernel(inline="always")
def remove(v, h, b):
    """Delete backend ``b`` from heap ``h``."""
    keys = 2 * h * v.cap
    n = v.hsize[h] - 1
    v.hsize[h] = n
    i = v.pos[b]
    if i == n:
        return
    last = v.region[keys + v.cap + n]
    pl = v.region[keys + n]
    if i > 0 and pl < v.region[keys + ((i - 1) >> 1)]:
        _sift_up(v, keys, i, last, pl)
    else:
        _sift_down(v, keys, n, i, last, pl)


@kernel(inline="always")
def resift(v, h, b):
    """Restore heap ``h`` after the priority of its element ``b`` changed."""
    keys = 2 * h * v.cap
    i = v.pos[b]
    pb = v.prio[b]
    if i > 0 and pb < v.region[keys + ((i - 1) >> 1)]:
        _sift_up(v, keys, i, b, pb)
    else:
        _sift_down(v, keys, v.hsize[h], i, b, pb)


@kernel(inline="always")
def sift_top(v, h):
    """Restore heap ``h`` after the priority of its top element changed."""
    keys = 2 * h * v.cap
    b = v.region[keys + v.cap]
    _sift_down(v, keys, v.hsize[h], 0, b, v.prio[b])


@kernel
def renumber(state):
    """Give every element of a tree a new insertion number in priority order (O(n**2), once per 2**31)."""
    cap = state[CAP]
    tree = HEADER + ID_TREE * cap
    prio = HEADER + ID_PRIO * cap
    seq = HEADER + ID_SEQ * cap
    count = 0
    for b in range(cap):
        if state[tree + b] == NO_TREE:
            continue
        rank = 0
        for c in range(cap):
            if state[tree + c] != NO_TREE and state[prio + c] < state[prio + b]:
                rank += 1
        state[seq + b] = rank
        count += 1
    for b in range(cap):
        if state[tree + b] != NO_TREE:
            state[prio + b] = (state[HEADER + ID_KEY * cap + b] << 31) | state[seq + b]
    for h in range(state[REGION_LEN] // (2 * cap)):  # the copies the heaps keep
        keys = state[REGION_AT] + 2 * h * cap
        for i in range(state[HSIZE + h]):
            state[keys + i] = state[prio + state[keys + cap + i]]
    state[SEQ] = count


class HeapScheduler(HAProxyScheduler):
    """An algorithm whose trees are heaps: its region holds ``n_heaps`` heaps of ``cap`` entries."""

    n_heaps: ClassVar[int] = 1

    def _region_need(self) -> int:
        pool = getattr(self, "pool", None)
        return 0 if pool is None else 2 * self.n_heaps * pool.capacity

    def _region_room(self, need: int) -> int:
        return need

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        return self._resized(capacity, 2 * self.n_heaps * capacity), self.fstate

    def _after_resize(self, old: np.ndarray, new: np.ndarray) -> None:
        old_cap, new_cap = int(old[CAP]), int(new[CAP])
        o, n = int(old[REGION_AT]), int(new[REGION_AT])
        new[n: n + int(new[REGION_LEN])] = 0
        for row in range(2 * self.n_heaps):  # heap h: priorities in row 2h, ids in row 2h + 1
            size = int(old[HSIZE + row // 2])
            dst, src = n + row * new_cap, o + row * old_cap
            new[dst: dst + size] = old[src: src + size]

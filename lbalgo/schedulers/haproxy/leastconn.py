"""haproxy-leastconn, haproxy-first: ``balance leastconn`` (``lb_fwlc.c``), ``balance first`` (``lb_fas.c``).

leastconn keeps the usable servers of each group in a tree::

    key(s) = 0 if inflight == 0 else (inflight + 1) * 4096 // eweight
             (inflight = served requests; HAProxy adds its queue, lbalgo has none)
    pick(): the first server in (key, insertion) order that is not at
            maxconn; the group as for roundrobin (the first usable backup
            alone unless allbackups)
    a connection taken or released: recompute the key; if it changed, the
    server leaves and re-enters the tree, behind the servers already there
    with that key; if not, it keeps its place

So idle servers rotate (the one just used goes behind the other idle ones),
and a weight-2 server holding 2 requests (key 384) beats a weight-1 server
holding 1 (key 512), where nginx sees a tie. A server coming up or changing
weight is re-inserted with its new key. The scheduler watches the pool's
counters to hear every release. Each tree is a binary heap of the servers
that are not full, ordered by (key, insertion): its top is the first server
the walk would not skip; a full server waits outside with its place (key
and insertion number) kept, so a pick costs O(log n).

first keeps them in a tree keyed by the numeric server id::

    pick(): the usable server with the smallest id that is not at maxconn

so without ``maxconn`` every request goes to the first server; lbalgo keeps
each group's usable servers as slots sorted by id, rebuilt at every edit. Sources:
``fwlc_get_next_server``, ``fwlc_srv_reposition``, ``fwlc_queue_srv``,
``fas_get_next_server``, HAProxy 2.6.12.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._jit import kernel
from ..._table import (
    BACKEND,
    EV_ADD,
    EV_COUNTERS,
    EV_DELETE,
    EV_RESIZE,
    F_OVERLOAD,
    FLAGS,
    LOOKUP,
    SLOT,
    account,
    account_at,
    listed,
)
from ..registry import register
from ._heap import HSIZE, SEQ_LIMIT, HeapScheduler, heap_views, push, remove, renumber, resift, top
from ._servers import (
    CAP,
    FBCK,
    ID_BACKUP,
    ID_EW,
    ID_KEY,
    ID_LINKED,
    ID_PUID,
    ID_SEQ,
    ID_TREE,
    NO_TREE,
    REGION_AT,
    SEQ,
    SRV_ACT,
    SRV_BCK,
    SRV_EWGHT_MAX,
    T0,
    added_id,
    assign_ids,
    at,
    event_backend,
    is_full,
    is_listed,
    next_eweight,
    recount,
    row,
    served,
)

M32 = 0xFFFFFFFF
IN_HEAP, PARKED = 1, 2  # ID_LINKED: in the heap, or in the tree but full (skipped by the walk)


#: Views of the per-id rows leastconn reads and writes.
Lc = namedtuple("Lc", "tree linked key seq ew backup")


@kernel(inline="always")
def lc_views(state):
    """:data:`Lc` over ``state``."""
    return Lc(row(state, ID_TREE), row(state, ID_LINKED), row(state, ID_KEY), row(state, ID_SEQ),
              row(state, ID_EW), row(state, ID_BACKUP))


@kernel(inline="always")
def lc_key(table, b, ew):
    """``fwlc_queue_srv``'s key: 0 when idle, else (inflight + 1) * 4096 // eweight."""
    inflight = served(table, b)
    if inflight == 0:
        return 0
    return ((inflight + 1) * SRV_EWGHT_MAX // (ew if ew else 1)) & M32


@kernel(inline="always")
def new_prio(state, v, h, b, key):
    """Key ``key`` and the next insertion number: ``eb32_insert`` goes after equal keys."""
    if state[SEQ] >= SEQ_LIMIT:
        renumber(state)
    q = state[SEQ]
    state[SEQ] = q + 1
    v.key[b] = key
    v.seq[b] = q
    h.prio[b] = (key << 31) | q


@kernel(inline="always")
def place(table, v, h, b):
    """Put ``b`` (in its tree, priority set) in its group's heap, or park it while it is full."""
    if is_full(table, b):
        v.linked[b] = PARKED
    else:
        v.linked[b] = IN_HEAP
        push(h, v.backup[b], b)


@kernel(inline="always")
def lc_unlink(v, h, b):
    """Out of the tree's heap or parking (``eb32_delete``)."""
    if v.linked[b] == IN_HEAP:
        remove(h, v.backup[b], b)
    v.linked[b] = 0


@kernel(inline="always")
def lc_link(table, state, v, h, b, ew):
    """Insert ``b`` into its group's tree with its current key, after equal keys."""
    v.tree[b] = T0
    new_prio(state, v, h, b, lc_key(table, b, ew))
    place(table, v, h, b)


@kernel(inline="always")
def sync_full(table, v, h, b):
    """Take a full server out of the heap, keeping its place; put one with room back."""
    if v.linked[b] == IN_HEAP and is_full(table, b):
        remove(h, v.backup[b], b)
        v.linked[b] = PARKED
    elif v.linked[b] == PARKED and not is_full(table, b):
        v.linked[b] = IN_HEAP
        push(h, v.backup[b], b)


@kernel(inline="always")
def reposition(table, state, v, h, b):
    """``fwlc_srv_reposition``: move ``b`` behind its new equals if its key changed."""
    if v.tree[b] == NO_TREE or not is_listed(table, b):
        return
    key = lc_key(table, b, v.ew[b])
    if v.linked[b] and v.key[b] == key:
        sync_full(table, v, h, b)
        return
    if v.linked[b] == IN_HEAP and not is_full(table, b):
        new_prio(state, v, h, b, key)  # out and back in behind its equals: one move in the heap
        resift(h, v.backup[b], b)
        return
    lc_unlink(v, h, b)
    new_prio(state, v, h, b, key)
    place(table, v, h, b)


@kernel(inline="always")
def group_of(state):
    """Return the group to pick from: 0 active, 1 backup; -2: the first backup alone; -1: none."""
    if state[SRV_ACT]:
        return 0
    if state[FBCK] >= 0:
        return -2
    if state[SRV_BCK]:
        return 1
    return -1


@kernel(inline="always")
def fwlc_next(state, h):
    """``fwlc_get_next_server`` (no server to avoid): a backend id or -1.

    The heap holds the servers that are not full, so its top is the first
    server of the tree that the walk would not skip.
    """
    group = group_of(state)
    if group == -2:
        return state[FBCK]
    if group < 0:
        return -1
    return top(h, group)


@kernel(signature="schedule", refcount=False)
def fwlc_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the HAProxy server layout; the trees as two heaps."""
    v = lc_views(state)
    h = heap_views(state)
    backend = -1
    for i in range(first, last):
        backend = account(table, fwlc_next(state, h), mode)
        if backend >= 0 and mode != LOOKUP:
            reposition(table, state, v, h, backend)  # server_take_conn
        out[i] = backend
    return backend


@kernel
def fwlc_update(table, state, b, ew):
    """``fwlc_update_server_weight`` / ``_set_server_status_up`` / ``_down``; commits eweight ``ew``."""
    v = lc_views(state)
    h = heap_views(state)
    if ew == v.ew[b]:
        return
    lc_unlink(v, h, b)
    if ew == 0:
        v.tree[b] = NO_TREE
    else:
        lc_link(table, state, v, h, b, ew)
    v.ew[b] = ew


@kernel
def fwlc_init(table, state):
    """``fwlc_init_server_tree``: ids, eweights, every usable server queued in config order."""
    assign_ids(table, state)
    v = lc_views(state)
    h = heap_views(state)
    for s in range(listed(table)):
        b = table[BACKEND, s]
        ew = next_eweight(table, state, b)
        v.ew[b] = ew
        if ew > 0:
            lc_link(table, state, v, h, b, ew)
    recount(table, state)


@kernel(signature="changed")
def fwlc_changed(table, state, fstate, event, where):
    """Runtime API edits, and ``server_drop_conn`` (EV_COUNTERS: ``where`` is a backend id)."""
    if event == EV_RESIZE:
        fwlc_init(table, state)
        return
    if event == EV_COUNTERS:
        reposition(table, state, lc_views(state), heap_views(state), where)
        return
    b = event_backend(table, event, where)
    if b < 0:
        return
    if event == EV_ADD:
        added_id(table, state, b)
        state[at(state, ID_EW, b)] = 0
        state[at(state, ID_LINKED, b)] = 0
        state[at(state, ID_TREE, b)] = NO_TREE
    fwlc_update(table, state, b, next_eweight(table, state, b))
    if state[at(state, ID_TREE, b)] != NO_TREE:
        sync_full(table, lc_views(state), heap_views(state), b)  # set_thresholds may have filled or freed it
    if event == EV_DELETE:
        state[at(state, ID_PUID, b)] = 0
    recount(table, state)


@register
class HAProxyLeastConn(HeapScheduler):
    """HAProxy ``balance leastconn`` (FWLC): fewest requests per weight, ties in queue order.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256 in config order; see
        :class:`~lbalgo.schedulers.haproxy._base.HAProxyScheduler` for
        ``ids``, ``backup``, ``allbackups`` and ``maxconn``.
    """

    name = "haproxy-leastconn"
    summary = "least (served+1)*4096/eweight, idle = 0, equal keys in queue order (a moved server goes last)"
    source = "HAProxy 2.6 lb_fwlc.c"
    watches_counters = True
    n_heaps = 2  # the active and the backup tree

    _schedule = fwlc_schedule
    _changed = fwlc_changed


@kernel(signature="schedule", refcount=False)
def fas_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the HAProxy server layout; per group, the usable servers' slots by id (the tree's order)."""
    flags = table[FLAGS]
    cap = state[CAP]
    base = state[REGION_AT]
    backend = -1
    for i in range(first, last):
        group = group_of(state)
        s = -1
        if group == -2:
            s = table[SLOT, state[FBCK]]
        elif group >= 0:
            start = base + group * cap
            for k in range(state[HSIZE + group]):
                c = state[start + k]
                if not flags[c] & F_OVERLOAD:
                    s = c
                    break
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


@kernel
def fas_order(table, state):
    """Return the usable servers of each group, as slots sorted by id (``fas_queue_srv``: key = puid)."""
    cap = state[CAP]
    for group in range(2):
        start = state[REGION_AT] + group * cap
        n = 0
        for s in range(listed(table)):
            b = table[BACKEND, s]
            if state[at(state, ID_EW, b)] == 0 or state[at(state, ID_BACKUP, b)] != group:
                continue
            puid = state[at(state, ID_PUID, b)]
            k = n
            while k > 0 and state[at(state, ID_PUID, table[BACKEND, state[start + k - 1]])] > puid:
                state[start + k] = state[start + k - 1]
                k -= 1
            state[start + k] = s
            n += 1
        state[HSIZE + group] = n


@kernel(signature="changed")
def fas_changed(table, state, fstate, event, where):
    """Runtime API edits: commit the eweight; ``add server`` takes the smallest free id, ``del`` frees it."""
    if event == EV_RESIZE:
        assign_ids(table, state)
        for s in range(listed(table)):
            b = table[BACKEND, s]
            state[at(state, ID_EW, b)] = next_eweight(table, state, b)
    else:
        b = event_backend(table, event, where)
        if b < 0:
            return
        if event == EV_ADD:
            added_id(table, state, b)
        state[at(state, ID_EW, b)] = next_eweight(table, state, b)
        if event == EV_DELETE:
            state[at(state, ID_PUID, b)] = 0
    recount(table, state)
    fas_order(table, state)


@register
class HAProxyFirst(HeapScheduler):
    """HAProxy ``balance first``: the usable server with the smallest id that is below its ``maxconn``.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256 in config order (only 0 / not 0 matters); see
        :class:`~lbalgo.schedulers.haproxy._base.HAProxyScheduler` for
        ``ids``, ``backup``, ``allbackups`` and ``maxconn``.
    """

    name = "haproxy-first"
    summary = "the first server (smallest id) below its maxconn; without maxconn always the first"
    source = "HAProxy 2.6 lb_fas.c"
    n_heaps = 1  # not a heap: rows 0 and 1 list the two groups' servers in id order (counts at HSIZE)

    def _after_resize(self, old: np.ndarray, new: np.ndarray) -> None:
        old_cap, new_cap = int(old[CAP]), int(new[CAP])
        o, n = int(old[REGION_AT]), int(new[REGION_AT])
        for group in range(2):
            size = int(old[HSIZE + group])
            dst, src = n + group * new_cap, o + group * old_cap
            new[dst: dst + size] = old[src: src + size]

    _schedule = fas_schedule
    _changed = fas_changed

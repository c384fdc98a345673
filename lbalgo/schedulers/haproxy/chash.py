"""The consistent-hash ring of ``hash-type consistent`` and ``balance random`` (``src/lb_chash.c``).

Each server owns ``eweight`` = 16 * weight points; point j of a server
has the key ``full_hash(id * 4096 + j)`` where id is its numeric id (puid).
Name, address and port play no part. Active and backup servers have rings
of their own; equal keys keep insertion order. ::

    lookup(h):
        ring: the active one if an active server is usable; else the first
              usable backup alone (no lookup) unless allbackups; else backups
        next = the first point with key >= h (wrapping); prev = the point before
        take prev if (h - prev) mod 2**32 <= (next - h) mod 2**32, else next
        (the nearest point wins, a tie goes to the lower one)

    set weight w (w > 0): drop the server's points j >= 16w; if it never had
        16w points allocated, drop all and allocate up to 16w; insert the
        points it is missing, in j order (behind equal keys)
    down: drop all its points; up: as set weight

``add server`` allocates the points before it numbers the server, so in
HAProxy 2.6 a server added at run time without ``id`` gets the points of
id 0 (and points allocated later, by a larger weight, use its real id):
lbalgo reproduces that. Deleting a middle server of auto-numbered servers
renumbers the later ones in a new configuration, which moves their points.

``next_server`` (round robin over the ring, for ``hdr`` without the header)
walks from the last point it returned. The ring lives in the state's region
as two rows: sort keys ``group << 62 | key << 30 | insertion`` and node ids
``backend * 4096 + j``. Source: ``chash_get_server_hash``,
``chash_queue_dequeue_srv``, ``chash_get_next_server``,
``chash_init_server_tree``, ``srv_alloc_lb`` (``src/server.c``), HAProxy 2.6.12.
"""

from __future__ import annotations

import numpy as np

from ..._jit import kernel
from ..._table import BACKEND, EV_ADD, EV_DELETE, EV_RESIZE, WEIGHT, listed
from ._hashes import full_hash
from ._servers import (
    ALGO,
    BE_WEIGHT_SCALE,
    FBCK,
    ID_ALLOC_PUID,
    ID_BACKUP,
    ID_EW,
    ID_EXPLICIT,
    ID_FIRST_TOT,
    ID_NODES_NOW,
    ID_NODES_TOT,
    ID_PUID,
    OVERFLOW,
    REGION_AT,
    REGION_LEN,
    SRV_ACT,
    SRV_BCK,
    SRV_EWGHT_MAX,
    SRV_UWGHT_MAX,
    added_id,
    assign_ids,
    at,
    event_backend,
    is_full,
    next_eweight,
    recount,
)

M32 = 0xFFFFFFFF
# header fields (chash uses ALGO .. ALGO + 7)
RING_N = ALGO  # points on both rings
RING_NACT = ALGO + 1  # points on the active ring (they sort first)
RING_CAP = ALGO + 2  # room for points (two rows of RING_CAP in the region)
LAST = ALGO + 3  # node id of the last point next_server returned, -1: none
RING_SEQ = ALGO + 4  # insertion counter of ring points
DIRTY = ALGO + 5  # points were appended: sort before the next lookup
SEQ_BITS = 30


@kernel(inline="always")
def node_key(state, b, j):
    """``full_hash(puid * 4096 + j)`` with the puid the point was allocated under."""
    base = state[at(state, ID_ALLOC_PUID, b)] if j < state[at(state, ID_FIRST_TOT, b)] \
        else state[at(state, ID_PUID, b)]
    return full_hash((base * SRV_EWGHT_MAX + j) & M32)


@kernel(inline="always")
def entry_key(state, i):
    """Return the 32-bit key of ring entry ``i``."""
    return (state[state[REGION_AT] + i] >> SEQ_BITS) & M32


@kernel(inline="always")
def entry_backend(state, i):
    """Return the backend id owning ring entry ``i``."""
    return state[state[REGION_AT] + state[RING_CAP] + i] // SRV_EWGHT_MAX


@kernel
def group_range(state, i):
    """``(lo, hi)`` of the ring (active or backup) entry ``i`` belongs to."""
    if i < state[RING_NACT]:
        return 0, state[RING_NACT]
    return state[RING_NACT], state[RING_N]


@kernel
def find_node(state, node):
    """Return the ring index of node id ``node``, -1 if it is not on the ring."""
    nodes = state[REGION_AT] + state[RING_CAP]
    for i in range(state[RING_N]):
        if state[nodes + i] == node:
            return i
    return -1


@kernel
def ring_remove(state, b, keep):
    """Drop the points of ``b`` with j >= ``keep`` (``LAST`` moves to the next surviving point)."""
    sort = state[REGION_AT]
    nodes = sort + state[RING_CAP]
    n = state[RING_N]
    last = state[LAST]
    if last >= 0 and last // SRV_EWGHT_MAX == b and last % SRV_EWGHT_MAX >= keep:
        # chash_skip_node, once per deleted point: the first point after it
        # (in its ring, wrapping) that survives, or none.
        p = find_node(state, last)
        lo, hi = group_range(state, p)
        state[LAST] = -1
        for k in range(1, hi - lo):
            q = lo + (p - lo + k) % (hi - lo)
            node = state[nodes + q]
            if not (node // SRV_EWGHT_MAX == b and node % SRV_EWGHT_MAX >= keep):
                state[LAST] = node
                break
    k = 0
    nact = 0
    for i in range(n):
        node = state[nodes + i]
        if node // SRV_EWGHT_MAX == b and node % SRV_EWGHT_MAX >= keep:
            continue
        state[sort + k] = state[sort + i]
        state[nodes + k] = node
        if (state[sort + k] >> 62) == 0:
            nact += 1
        k += 1
    state[RING_N] = k
    state[RING_NACT] = nact


@kernel
def ring_insert(state, b, lo, hi):
    """Append the points j in [lo, hi) of ``b`` (sorted later); False if the ring has no room."""
    n = state[RING_N]
    if n + hi - lo > state[RING_CAP]:
        state[OVERFLOW] = 1
        return False
    sort = state[REGION_AT]
    nodes = sort + state[RING_CAP]
    group = state[at(state, ID_BACKUP, b)]
    for j in range(lo, hi):
        q = state[RING_SEQ]
        state[RING_SEQ] = q + 1
        state[sort + n] = (group << 62) | (node_key(state, b, j) << SEQ_BITS) | q
        state[nodes + n] = b * SRV_EWGHT_MAX + j
        n += 1
    state[RING_N] = n
    state[DIRTY] = 1
    return True


@kernel
def ring_sort(state):
    """Sort the ring (after appends); renumber insertions when the counter nears its field's width."""
    n = state[RING_N]
    sort = state[REGION_AT]
    nodes = sort + state[RING_CAP]
    keys = state[sort: sort + n].copy()
    ids = state[nodes: nodes + n].copy()
    order = np.argsort(keys)
    nact = 0
    renumber = state[RING_SEQ] >= (1 << SEQ_BITS) - (1 << 20)
    for i in range(n):
        v = keys[order[i]]
        if renumber:
            v = (v >> SEQ_BITS << SEQ_BITS) | i
        state[sort + i] = v
        state[nodes + i] = ids[order[i]]
        if (v >> 62) == 0:
            nact += 1
    if renumber:
        state[RING_SEQ] = n
    state[RING_NACT] = nact
    state[DIRTY] = 0


@kernel
def queue_dequeue(state, b, ew):
    """``chash_queue_dequeue_srv``: the server shows exactly ``ew`` points."""
    now = at(state, ID_NODES_NOW, b)
    tot = at(state, ID_NODES_TOT, b)
    if state[now] > ew:
        ring_remove(state, b, ew)
        state[now] = ew
    if state[tot] < ew:
        ring_remove(state, b, 0)  # the points move in memory: all of them leave first
        state[now] = 0
        state[tot] = ew
    if state[now] < ew:
        if ring_insert(state, b, state[now], min(ew, state[tot])):
            state[now] = min(ew, state[tot])


@kernel
def chash_update(state, b, ew):
    """``chash_update_server_weight`` / ``_set_server_status_up`` / ``_down``; commits eweight ``ew``."""
    old = state[at(state, ID_EW, b)]
    if ew == old:
        return
    if ew == 0:
        ring_remove(state, b, 0)
        state[at(state, ID_NODES_NOW, b)] = 0
    else:
        queue_dequeue(state, b, ew)
    state[at(state, ID_EW, b)] = ew


@kernel
def chash_init(table, state):
    """``chash_init_server_tree``: ids, eweights, points allocated by configured weight, usable ones in."""
    assign_ids(table, state)
    state[RING_N] = 0
    state[RING_NACT] = 0
    state[LAST] = -1
    state[OVERFLOW] = 0
    for s in range(listed(table)):
        b = table[BACKEND, s]
        allocated = min(table[WEIGHT, s], SRV_UWGHT_MAX) * BE_WEIGHT_SCALE
        state[at(state, ID_NODES_TOT, b)] = allocated
        state[at(state, ID_FIRST_TOT, b)] = allocated
        state[at(state, ID_ALLOC_PUID, b)] = state[at(state, ID_PUID, b)]
        state[at(state, ID_NODES_NOW, b)] = 0
        state[at(state, ID_EW, b)] = 0
        chash_update(state, b, next_eweight(table, state, b))
    recount(table, state)
    ring_sort(state)


@kernel
def chash_changed_kernel(table, state, event, where):
    """Runtime API edits: ``set weight``, ``add server`` + ``enable server``, ``disable`` + ``del server``."""
    if event == EV_RESIZE:
        chash_init(table, state)
        return
    b = event_backend(table, event, where)
    if b < 0:
        return
    if event == EV_ADD:
        # srv_alloc_lb runs before the id is assigned: points of id 0 unless given one.
        allocated = min(table[WEIGHT, where], SRV_UWGHT_MAX) * BE_WEIGHT_SCALE
        state[at(state, ID_ALLOC_PUID, b)] = state[at(state, ID_EXPLICIT, b)]
        state[at(state, ID_NODES_TOT, b)] = allocated
        state[at(state, ID_FIRST_TOT, b)] = allocated
        state[at(state, ID_NODES_NOW, b)] = 0
        state[at(state, ID_EW, b)] = 0
        added_id(table, state, b)
    chash_update(state, b, next_eweight(table, state, b))
    if event == EV_DELETE:
        state[at(state, ID_PUID, b)] = 0
    recount(table, state)
    if state[DIRTY]:
        ring_sort(state)


@kernel(inline="always")
def ring_bounds(state):
    """``(lo, hi)`` of the ring in use; ``(-1, fbck)``: the first backup answers alone; ``(0, 0)``: none."""
    if state[SRV_ACT]:
        return 0, state[RING_NACT]
    if state[FBCK] >= 0:
        return -1, state[FBCK]
    if state[SRV_BCK]:
        return state[RING_NACT], state[RING_N]
    return 0, 0


@kernel(inline="always")
def chash_lookup(state, h):
    """``chash_get_server_hash`` (no server to avoid, no balance factor): a backend id or -1."""
    lo, hi = ring_bounds(state)
    if lo < 0:
        return hi
    if lo >= hi or state[OVERFLOW]:
        return -1
    a = lo
    z = hi
    while a < z:  # the first point with key >= h
        mid = (a + z) >> 1
        if entry_key(state, mid) < h:
            a = mid + 1
        else:
            z = mid
    nxt = a if a < hi else lo
    prv = nxt - 1 if nxt > lo else hi - 1
    dp = (h - entry_key(state, prv)) & M32
    dn = (entry_key(state, nxt) - h) & M32
    return entry_backend(state, prv if dp <= dn else nxt)


@kernel
def chash_next(table, state):
    """``chash_get_next_server`` (no server to avoid): round robin over the ring; a backend id or -1."""
    lo, hi = ring_bounds(state)
    if lo < 0:
        return hi
    if state[OVERFLOW]:
        return -1
    node = -1 if state[LAST] < 0 else find_node(state, state[LAST])
    stop = node
    nodes = state[REGION_AT] + state[RING_CAP]
    while True:
        if node >= 0:
            glo, ghi = group_range(state, node)
            node = node + 1 if node + 1 < ghi else -1
        if node < 0:
            node = lo if lo < hi else -1
        if node < 0:
            state[LAST] = -1
            return -1
        state[LAST] = state[nodes + node]
        if stop < 0:
            stop = node
        b = entry_backend(state, node)
        if not is_full(table, b):
            return b
        if node == stop:
            state[LAST] = -1
            return -1


def ring_room(need: int) -> int:
    """Region values for a ring of ``need`` points (two rows)."""
    return 2 * need


def ring_need(pool: object) -> int:
    """Points the pool's usable servers would put on the ring (16 per weight unit)."""
    table = pool.table  # type: ignore[attr-defined]
    n = len(pool)  # type: ignore[arg-type]
    return int(np.minimum(table[WEIGHT, :n], SRV_UWGHT_MAX).sum()) * BE_WEIGHT_SCALE


def fill_ring_header(state: np.ndarray) -> None:
    """Set the ring's capacity from the region's length."""
    state[RING_CAP] = state[REGION_LEN] // 2
    state[LAST] = -1


def relayout_ring(old: np.ndarray, new: np.ndarray) -> None:
    """After the region grew: move the node row to the new ring capacity's offset."""
    old_cap = int(old[RING_CAP])
    n = int(old[RING_N])
    new[RING_CAP] = new[REGION_LEN] // 2
    start = int(new[REGION_AT])
    o = int(old[REGION_AT])
    new[start: start + n] = old[o: o + n]
    new[start + int(new[RING_CAP]): start + int(new[RING_CAP]) + n] = old[o + old_cap: o + old_cap + n]

"""haproxy-roundrobin: ``balance roundrobin``, the fast weighted round robin of ``src/lb_fwrr.c``.

Each server group (active, backup) keeps a position ``curr_pos``, the total
eweight of the current window ``curr_weight`` and of the next one
``next_weight``, and three trees: *curr* (servers placed in this window, by
next position), *init* (not placed yet, by ``4096 - eweight``: heaviest
first) and *next* (pushed to the next window, same key). Equal keys keep
insertion order. ::

    start: every usable server in init, in config order;
           curr_pos = curr_weight = next_weight = sum of eweights
    pick():
        group: active if any active server is usable; else the first usable
               backup alone (no maxconn check) unless allbackups; else backups
        if curr_weight == 0: curr_pos = curr_weight = next_weight
        repeat:
            s = head of curr if its npos <= curr_pos, else head of init
                (npos = rweight = 0), else head of curr; if there is none,
                swap init and next (curr_weight = curr_pos = next_weight)
                once, then give up
            place s: if npos == 0: npos = curr_pos; lpos = npos
                     npos += next_weight // eweight; rweight += next_weight % eweight
                     if rweight >= eweight: rweight -= eweight; npos += 1
            take s out of its tree; curr_pos += 1
            if s is at maxconn: set it aside and repeat, else stop
        requeue s: if npos >= 2*curr_weight or >= curr_weight + next_weight:
                       npos -= curr_weight, into next by weight
                   else into curr, key 256*npos + (4096 + rweight - eweight) // 16
        the servers set aside go back (into init, by weight, if the trees
        were swapped, else requeued like s)

The period is sum(eweight) = 16 * sum(weight) picks and it starts on the
heaviest server: 5, 1, 1 give ``0 0 0 1 0 0 2``, 4, 3, 2 give
``0 1 0 2 1 0 0 1 2``. Weights change at run time (``set weight``) without
a restart, as ``fwrr_update_server_weight`` does (see the code below);
a server going down leaves the trees, one coming up is placed at
``curr_pos + (next_weight + curr_weight - curr_pos) // eweight``.

Each tree is a binary heap ordered by (key, insertion): the same first
server as the ebtree, in O(log n) per pick (see :mod:`._heap`).
Source: HAProxy 2.6.12 ``src/lb_fwrr.c``.
"""

from __future__ import annotations

from collections import namedtuple

from ..._jit import kernel
from ..._table import BACKEND, EV_ADD, EV_DELETE, EV_RESIZE, SLOT, account_at, listed
from ..registry import register
from ._heap import SEQ_LIMIT, HeapScheduler, heap_views, push, remove, renumber, sift_top, top
from ._servers import (
    ALGO,
    CURR,
    FBCK,
    ID_BACKUP,
    ID_EW,
    ID_KEY,
    ID_LINKED,
    ID_LPOS,
    ID_NEXT_FULL,
    ID_NPOS,
    ID_PUID,
    ID_REM,
    ID_RWEIGHT,
    ID_SEQ,
    ID_STEP,
    ID_TREE,
    NO_TREE,
    SEQ,
    SRV_ACT,
    SRV_BCK,
    SRV_EWGHT_MAX,
    T0,
    TOT_WACT,
    TOT_WBCK,
    added_id,
    assign_ids,
    at,
    event_backend,
    is_full,
    next_eweight,
    recount,
    row,
)

M32 = 0xFFFFFFFF
# group fields: active group at GROUPS, backup group at GROUPS + 4
GROUPS = ALGO
CURR_POS, CURR_WEIGHT, NEXT_WEIGHT, INIT = 0, 1, 2, 3

#: Views of the per-id rows FWRR reads and writes, and of both groups' fields (``groups[4 * backup + f]``).
Fw = namedtuple("Fw", "ew npos lpos rweight tree linked key seq backup step rem next_full groups")


@kernel(inline="always")
def fw_views(state):
    """:data:`Fw` over ``state`` (taken once per batch: kernels then keep the rows' addresses)."""
    return Fw(row(state, ID_EW), row(state, ID_NPOS), row(state, ID_LPOS), row(state, ID_RWEIGHT),
              row(state, ID_TREE), row(state, ID_LINKED), row(state, ID_KEY), row(state, ID_SEQ),
              row(state, ID_BACKUP), row(state, ID_STEP), row(state, ID_REM), row(state, ID_NEXT_FULL),
              state[GROUPS: GROUPS + 8])


@kernel(inline="always")
def heap_of(tree, backup):
    """Return the heap of ``tree`` (CURR, T0, T1) in group ``backup``."""
    return 3 * backup + tree - 1


@kernel(inline="always")
def new_prio(state, f, h, b, key):
    """Key ``key`` and the next insertion number: ``eb32_insert`` goes after equal keys."""
    if state[SEQ] >= SEQ_LIMIT:
        renumber(state)
    q = state[SEQ]
    state[SEQ] = q + 1
    f.key[b] = key
    f.seq[b] = q
    h.prio[b] = (key << 31) | q


@kernel(inline="always")
def link(state, f, h, b, tree, key):
    """``eb32_insert`` into ``tree``, after the servers already there with ``key``."""
    f.tree[b] = tree
    new_prio(state, f, h, b, key & M32)
    f.linked[b] = 1
    push(h, heap_of(tree, f.backup[b]), b)


@kernel(inline="always")
def unlink(f, h, b):
    """``eb32_delete``: out of its tree (``lb_tree`` still names it, as in HAProxy)."""
    if f.linked[b]:
        remove(h, heap_of(f.tree[b], f.backup[b]), b)
        f.linked[b] = 0


@kernel(inline="always")
def queue_by_weight(state, f, h, tree, b, ew):
    """``fwrr_queue_by_weight``."""
    link(state, f, h, b, tree, SRV_EWGHT_MAX - ew)


@kernel(inline="always")
def queue_srv(state, f, h, b, ew):
    """``fwrr_queue_srv``: into curr by position, or into next; ``ew`` is the server's next eweight."""
    g = 4 * f.backup[b]
    if ew <= 0:
        f.tree[b] = NO_TREE
    elif f.npos[b] >= 2 * f.groups[g + CURR_WEIGHT] or \
            f.npos[b] >= f.groups[g + CURR_WEIGHT] + f.groups[g + NEXT_WEIGHT]:
        f.npos[b] -= f.groups[g + CURR_WEIGHT]
        queue_by_weight(state, f, h, 5 - f.groups[g + INIT], b, ew)
    else:
        link(state, f, h, b, CURR, 256 * f.npos[b] + (SRV_EWGHT_MAX + f.rweight[b] - ew) // 16)


@kernel(inline="always")
def get_srv(f, b):
    """``fwrr_get_srv``: reset or shift the position by the tree the server was in."""
    g = 4 * f.backup[b]
    tree = f.tree[b]
    if tree == f.groups[g + INIT]:
        f.npos[b] = 0
        f.rweight[b] = 0
    elif tree == 5 - f.groups[g + INIT]:
        f.npos[b] += f.groups[g + CURR_WEIGHT]
    elif tree == NO_TREE:
        f.npos[b] = f.groups[g + CURR_POS]


@kernel(inline="always")
def from_group(f, h, g, backup):
    """``fwrr_get_server_from_group``: a candidate, or -1."""
    s1 = top(h, heap_of(CURR, backup))
    if s1 >= 0 and f.ew[s1] and f.npos[s1] <= f.groups[g + CURR_POS]:
        return s1
    s2 = top(h, heap_of(f.groups[g + INIT], backup))
    if s2 >= 0 and f.ew[s2]:
        f.npos[s2] = 0
        f.rweight[s2] = 0
        return s2
    return s1


@kernel(inline="always")
def update_position(f, g, b):
    """``fwrr_update_position``, with ``next_weight // ew`` and ``% ew`` kept per server (:func:`steps`)."""
    ew = f.ew[b]
    if ew:
        if f.npos[b] == 0:
            f.npos[b] = f.groups[g + CURR_POS]
        f.lpos[b] = f.npos[b]
        f.npos[b] += f.step[b]
        f.rweight[b] += f.rem[b]
        if f.rweight[b] >= ew:
            f.rweight[b] -= ew
            f.npos[b] += 1


@kernel(inline="always")
def requeue_top(state, f, h, g, backup, b):
    """Take ``b`` (the first of its tree) out and ``fwrr_queue_srv`` it: one heap operation when it stays."""
    src = heap_of(f.tree[b], backup)
    ew = f.ew[b]
    if f.npos[b] >= 2 * f.groups[g + CURR_WEIGHT] or \
            f.npos[b] >= f.groups[g + CURR_WEIGHT] + f.groups[g + NEXT_WEIGHT]:
        f.npos[b] -= f.groups[g + CURR_WEIGHT]
        tree = 5 - f.groups[g + INIT]
        key = SRV_EWGHT_MAX - ew
    else:
        tree = CURR
        key = 256 * f.npos[b] + (SRV_EWGHT_MAX + f.rweight[b] - ew) // 16
    f.tree[b] = tree
    new_prio(state, f, h, b, key & M32)
    dst = heap_of(tree, backup)
    if dst == src:
        sift_top(h, dst)
    else:
        remove(h, src, b)
        push(h, dst, b)


@kernel
def steps(table, state):
    """Each usable server's ``next_weight // eweight`` and ``% eweight`` (for fwrr_update_position)."""
    f = fw_views(state)
    for s in range(listed(table)):
        b = table[BACKEND, s]
        ew = f.ew[b]
        if ew > 0:
            nw = f.groups[4 * f.backup[b] + NEXT_WEIGHT]
            f.step[b] = nw // ew
            f.rem[b] = nw % ew


@kernel(inline="always")
def fwrr_next(table, state, f, h):
    """``fwrr_get_next_server`` (no server to avoid): a backend id or -1."""
    if state[SRV_ACT]:
        backup = 0
    elif state[FBCK] >= 0:
        return state[FBCK]
    elif state[SRV_BCK]:
        backup = 1
    else:
        return -1
    g = 4 * backup
    switched = False
    full = -1  # servers set aside, chained through next_full (last first)
    srv = -1
    while True:
        if f.groups[g + CURR_WEIGHT] == 0:
            f.groups[g + CURR_POS] = f.groups[g + NEXT_WEIGHT]
            f.groups[g + CURR_WEIGHT] = f.groups[g + NEXT_WEIGHT]
        srv = from_group(f, h, g, backup)
        if srv < 0:
            if switched:
                break
            switched = True
            f.groups[g + INIT] = 5 - f.groups[g + INIT]
            f.groups[g + CURR_WEIGHT] = f.groups[g + NEXT_WEIGHT]
            f.groups[g + CURR_POS] = f.groups[g + CURR_WEIGHT]
            continue
        update_position(f, g, srv)
        f.groups[g + CURR_POS] += 1
        if not is_full(table, srv):
            requeue_top(state, f, h, g, backup, srv)
            break
        unlink(f, h, srv)
        f.next_full[srv] = full
        full = srv
        srv = -1
    while full >= 0:
        nxt = f.next_full[full]
        if switched:
            queue_by_weight(state, f, h, f.groups[g + INIT], full, f.ew[full])
        else:
            queue_srv(state, f, h, full, f.ew[full])
        full = nxt
    return srv


@kernel(signature="schedule", refcount=False)
def fwrr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the HAProxy server layout, group fields at GROUPS, the trees as six heaps."""
    f = fw_views(state)
    h = heap_views(state)
    slot = table[SLOT]
    backend = -1
    for i in range(first, last):
        b = fwrr_next(table, state, f, h)
        backend = account_at(table, slot[b] if b >= 0 else -1, mode)
        out[i] = backend
    return backend


@kernel
def status_up(state, f, h, b, ew):
    """``fwrr_set_server_status_up`` (the server was not usable, will be with eweight ``ew``)."""
    g = 4 * f.backup[b]
    f.groups[g + NEXT_WEIGHT] += ew
    get_srv(f, b)
    f.npos[b] = f.groups[g + CURR_POS] + \
        (f.groups[g + NEXT_WEIGHT] + f.groups[g + CURR_WEIGHT] - f.groups[g + CURR_POS]) // ew
    queue_srv(state, f, h, b, ew)


@kernel
def status_down(f, h, b):
    """``fwrr_set_server_status_down`` (the server was usable, will not be)."""
    f.groups[4 * f.backup[b] + NEXT_WEIGHT] -= f.ew[b]
    unlink(f, h, b)
    f.tree[b] = NO_TREE


@kernel
def update_weight(state, b, ew):
    """``fwrr_update_server_weight``: eweight ``ew`` from now on (0: down); commits it."""
    f = fw_views(state)
    h = heap_views(state)
    old = f.ew[b]
    if ew == old:
        return
    if old == 0:
        status_up(state, f, h, b, ew)
    elif ew == 0:
        status_down(f, h, b)
    else:
        g = 4 * f.backup[b]
        f.groups[g + NEXT_WEIGHT] += ew - old
        tree = f.tree[b]
        if tree == f.groups[g + INIT]:
            unlink(f, h, b)
            queue_by_weight(state, f, h, f.groups[g + INIT], b, ew)
        elif tree == NO_TREE:
            unlink(f, h, b)
            get_srv(f, b)
            f.npos[b] = f.groups[g + CURR_POS] + \
                (f.groups[g + NEXT_WEIGHT] + f.groups[g + CURR_WEIGHT] - f.groups[g + CURR_POS]) // ew
            queue_srv(state, f, h, b, ew)
        else:
            get_srv(f, b)
            prev_next = f.npos[b]
            step = f.groups[g + NEXT_WEIGHT] // ew
            f.npos[b] = f.lpos[b] + step
            f.rweight[b] = 0
            if f.npos[b] > prev_next:
                f.npos[b] = prev_next
            if f.npos[b] < f.groups[g + CURR_POS] + 2:
                f.npos[b] = f.groups[g + CURR_POS] + step
            unlink(f, h, b)
            queue_srv(state, f, h, b, ew)
    f.ew[b] = ew


@kernel
def fwrr_init(table, state):
    """``fwrr_init_server_groups``: ids, eweights, both groups' windows, every usable server in init."""
    assign_ids(table, state)
    for s in range(listed(table)):
        b = table[BACKEND, s]
        state[at(state, ID_EW, b)] = next_eweight(table, state, b)
    recount(table, state)
    f = fw_views(state)
    h = heap_views(state)
    for backup in range(2):
        total = state[TOT_WBCK] if backup else state[TOT_WACT]
        f.groups[4 * backup + CURR_POS] = total
        f.groups[4 * backup + CURR_WEIGHT] = total
        f.groups[4 * backup + NEXT_WEIGHT] = total
        f.groups[4 * backup + INIT] = T0
    for s in range(listed(table)):
        b = table[BACKEND, s]
        if f.ew[b] > 0:
            queue_by_weight(state, f, h, T0, b, f.ew[b])
    steps(table, state)


@kernel(signature="changed")
def fwrr_changed(table, state, fstate, event, where):
    """Runtime API: ``set weight``, ``add`` + ``enable``, ``disable`` + ``del server``."""
    if event == EV_RESIZE:
        fwrr_init(table, state)
        return
    b = event_backend(table, event, where)
    if b < 0:
        return
    if event == EV_ADD:
        added_id(table, state, b)
        for row in (ID_EW, ID_TREE, ID_LINKED, ID_NPOS, ID_LPOS, ID_RWEIGHT):
            state[at(state, row, b)] = 0
    update_weight(state, b, next_eweight(table, state, b))
    if event == EV_DELETE:
        state[at(state, ID_PUID, b)] = 0
    recount(table, state)
    steps(table, state)


@register
class HAProxyRoundRobin(HeapScheduler):
    """HAProxy ``balance roundrobin`` (FWRR): dynamic weights, a period of 16 * sum(weight) picks.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256 in config order; see
        :class:`~lbalgo.schedulers.haproxy._base.HAProxyScheduler` for
        ``ids``, ``backup``, ``allbackups`` and ``maxconn``.
    """

    name = "haproxy-roundrobin"
    summary = "fast weighted round robin (FWRR): positions in a window of 16*sum(w), heaviest first"
    source = "HAProxy 2.6 lb_fwrr.c"
    n_heaps = 6  # curr, t0, t1 of the active and the backup group

    _schedule = fwrr_schedule
    _changed = fwrr_changed

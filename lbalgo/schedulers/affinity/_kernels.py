"""The persistence layer: the three affinity semantics as kernels, and the driver around any scheduler.

Data layout and the storage kernels: :mod:`._store`. Each decision computes
the client's slot once and hands it to the mode's check and record kernels.

:func:`persist_schedule` is the layer itself, the way IPVS looks up a
persistence template before it calls a scheduler (``ip_vs_sched_persist``):
it is compiled once and receives the inner scheduler's ``schedule`` and
``changed`` kernels as function pointers, so any scheduler gets ClientIP
affinity without compiling the combination. The simulator's event loop
calls it for every arrival when persistence is on.
"""

from __future__ import annotations

import numpy as np

from ..._jit import kernel
from ..._table import BACKEND as BACKEND_ROW  # the table row; BACKEND below is the entry column
from ..._table import (
    EV_COUNTERS,
    F_AVAILABLE,
    FLAGS,
    SLOT,
    WEIGHT,
    account,
    bind_template,
    item,
    listed,
    unbind_template,
)
from ._store import (
    BACKEND,
    BIG,
    CAPACITY,
    CLIENT_NEXT,
    CLOCK,
    CONTROLLED,
    EXPIRE_QUIESCENT,
    HEAD,
    IPVS,
    LENGTH,
    LISTS,
    META,
    MODE,
    NFTABLES,
    RANK,
    ROW_TIMEOUT,
    ROW_TIMES,
    ROWS,
    STAMP,
    STICKY,
    TIMEOUT,
    TIMING,
    V6_BASE,
    V6FOLD,
    delete_row,
    first_row,
    move_to_tail,
    new_row,
    row_of,
    slot_of,
)


# -- iptables: xt_recent ---------------------------------------------------------------
@kernel(refcount=False)
def recent_check(aff, s, client, now):
    """Check the ``--rcheck --seconds T --reap`` rules in endpoint order; return the endpoint matched or -1.

    An entry matches while ``now - T <= last set``. Each rule reached whose
    list holds the client (stale, or the match itself) reaps that list once:
    its oldest entry goes if ``now - T > its last set``.
    """
    timing, rows, row_times, lists, rank = aff[TIMING], aff[ROWS], aff[ROW_TIMES], aff[LISTS], aff[RANK]
    limit = now - timing[TIMEOUT]
    best = -1
    best_rank = BIG
    r = first_row(aff, s, client)
    first = r
    while r >= 0:
        b = rows[r, BACKEND]
        if not limit > row_times[r, STAMP] and rank[b] < best_rank:
            best = b
            best_rank = rank[b]
        r = rows[r, CLIENT_NEXT]
    r = first
    while r >= 0:
        nxt = rows[r, CLIENT_NEXT]
        b = rows[r, BACKEND]
        if rank[b] <= best_rank:
            oldest = lists[b, HEAD]
            if limit > row_times[oldest, STAMP]:
                delete_row(aff, oldest)
        r = nxt
    return best


@kernel(refcount=False)
def recent_set(aff, s, client, b, now):
    """``--set`` in b's list: refresh the entry, or add one (evicting the oldest when full)."""
    meta, row_times, lists = aff[META], aff[ROW_TIMES], aff[LISTS]
    r = row_of(aff, s, client, b)
    if r >= 0:
        row_times[r, STAMP] = now
        move_to_tail(aff, r)
    else:
        if meta[CAPACITY] > 0 and lists[b, LENGTH] >= meta[CAPACITY]:
            delete_row(aff, lists[b, HEAD])
        new_row(aff, s, client, b, now)


# -- nftables: dynamic sets with timeouts -------------------------------------------------
@kernel(refcount=False)
def set_check(aff, s, client, now):
    """Check the ``ip saddr @affinity`` rules in endpoint order; return the endpoint matched or -1.

    Expired elements met on the way are dropped.
    """
    rows, row_times, rank = aff[ROWS], aff[ROW_TIMES], aff[RANK]
    best = -1
    best_rank = BIG
    r = first_row(aff, s, client)
    while r >= 0:
        nxt = rows[r, CLIENT_NEXT]
        b = rows[r, BACKEND]
        if now >= row_times[r, STAMP]:
            delete_row(aff, r)
        elif rank[b] < best_rank:
            best = b
            best_rank = rank[b]
        r = nxt
    return best


@kernel(refcount=False)
def set_update(aff, s, client, b, now):
    """``update @set { ip saddr }``: expiry = now + T; a full set takes no new element."""
    meta, timing, row_times, lists = aff[META], aff[TIMING], aff[ROW_TIMES], aff[LISTS]
    expires = now + timing[TIMEOUT]
    r = row_of(aff, s, client, b)
    if r >= 0:
        row_times[r, STAMP] = expires
        move_to_tail(aff, r)
    else:
        # Every element has the same timeout, so the list is in expiry order:
        # expired elements (Linux's garbage collection of the set) leave from the head.
        h = lists[b, HEAD]
        while h >= 0 and now >= row_times[h, STAMP]:
            delete_row(aff, h)
            h = lists[b, HEAD]
        if meta[CAPACITY] == 0 or lists[b, LENGTH] < meta[CAPACITY]:
            new_row(aff, s, client, b, expires)


# -- ipvs: persistence templates ------------------------------------------------------------
@kernel(refcount=False)
def sticky_expiry(expires, now):
    """Return the template timer after it fired at ``expires``, ``expires + 60``, ... up to ``now``.

    Each firing with controlled connections re-arms it 60 s later: the first
    ``expires + 60 k`` (k >= 1) after ``now``.
    """
    k = np.floor((now - expires) / STICKY) + 1.0
    e = expires + STICKY * k
    while e <= now:
        e += STICKY
    while e - STICKY > now and e - STICKY > expires:
        e -= STICKY
    return e


@kernel(refcount=False)
def drop_template(table, aff, r):
    """Remove template row ``r``: persistconns - 1 and the overload rule of an unbind (§0.4)."""
    unbind_template(table, aff[ROWS][r, BACKEND])
    delete_row(aff, r)


@kernel(refcount=False)
def template_check(table, aff, s, client, now):
    """``ip_vs_sched_persist`` up to the scheduler: the template's backend, or -1.

    Timers due at or before ``now`` fire first. A usable template controls
    the new connection and is re-armed to ``now + its timeout``.
    """
    meta, rows, row_times = aff[META], aff[ROWS], aff[ROW_TIMES]
    hit = -1
    r = first_row(aff, s, client)
    if r >= 0:
        if row_times[r, STAMP] <= now:
            if rows[r, CONTROLLED] > 0:
                row_times[r, STAMP] = sticky_expiry(row_times[r, STAMP], now)
                row_times[r, ROW_TIMEOUT] = STICKY
            else:
                drop_template(table, aff, r)
                r = -1
    if r >= 0:
        b = rows[r, BACKEND]
        sb = table[SLOT, b]
        # ip_vs_check_template; IPVS keeps an invalidated template
        # (unhashed) until its timer; here it goes at once.
        if not table[FLAGS, sb] & F_AVAILABLE or (meta[EXPIRE_QUIESCENT] != 0 and table[WEIGHT, sb] == 0):
            drop_template(table, aff, r)
        else:
            rows[r, CONTROLLED] += 1
            row_times[r, STAMP] = now + row_times[r, ROW_TIMEOUT]
            hit = b
    return hit


@kernel(refcount=False)
def template_new(table, aff, s, client, b, now):
    """Add a template on ``b`` controlling this connection (it binds like any connection, §0.4)."""
    timing, rows, row_times = aff[TIMING], aff[ROWS], aff[ROW_TIMES]
    r = new_row(aff, s, client, b, now + timing[TIMEOUT])
    rows[r, CONTROLLED] = 1
    row_times[r, ROW_TIMEOUT] = timing[TIMEOUT]
    bind_template(table, b)


@kernel(refcount=False)
def template_release(aff, client, b, now):
    """One connection of ``client`` on ``b`` ended at ``now`` (timers due first)."""
    rows, row_times = aff[ROWS], aff[ROW_TIMES]
    r = first_row(aff, slot_of(aff, client), client)
    if r >= 0 and rows[r, BACKEND] == b and rows[r, CONTROLLED] > 0:
        if row_times[r, STAMP] <= now:
            row_times[r, STAMP] = sticky_expiry(row_times[r, STAMP], now)
            row_times[r, ROW_TIMEOUT] = STICKY
        rows[r, CONTROLLED] -= 1


# -- the layer ------------------------------------------------------------------------------------
@kernel(refcount=False)
def persist_check(table, aff, key, now):
    """Apply the mode's affinity rules to client ``key`` at ``now``; return the backend they pin, or -1."""
    meta = aff[META]
    mode = meta[MODE]
    s = slot_of(aff, key)
    if mode == IPVS:
        hit = template_check(table, aff, s, key, now)
    elif mode == NFTABLES:
        hit = set_check(aff, s, key, now)
    else:
        hit = recent_check(aff, s, key, now)
    aff[TIMING][CLOCK] = now
    return hit


@kernel(refcount=False)
def persist_record(table, aff, key, backend, hit, now):
    """Record that client ``key`` went to ``backend`` (``hit``: the rules chose it, else the scheduler)."""
    mode = aff[META][MODE]
    # Deletions in persist_check never move a client's slot: clients stay in the table.
    s = slot_of(aff, key)
    if mode == IPVS:
        if hit < 0:
            template_new(table, aff, s, key, backend, now)
    elif mode == NFTABLES:
        set_update(aff, s, key, backend, now)
    else:
        recent_set(aff, s, key, backend, now)


@kernel(refcount=False)
def persist_schedule(schedule, changed, table, state, fstate, aff, keys, times, out, first, last, mode,
                     watches, inner_key):
    """Schedule connections ``first .. last-1`` with ClientIP affinity in front of ``schedule``.

    ``keys`` are client identities (IPv6 as ids >= 2**32, see
    ``_identity_keys``); the inner scheduler gets what IPVS hashes, the
    address folded to 32 bits, through the one-element array ``inner_key``.
    A connection the rules pin is counted here; the others go to the inner
    scheduler, which counts them. ``watches``: the inner scheduler hears
    EV_COUNTERS for the counts it did not make itself. Returns the last backend.
    """
    v6fold = aff[V6FOLD]
    backend = -1
    for i in range(first, last):
        key = item(keys, i)
        now = item(times, i)
        hit = persist_check(table, aff, key, now)
        if hit >= 0:
            backend = account(table, hit, mode)
            out[i] = backend
            if watches:
                changed(table, state, fstate, EV_COUNTERS, backend)
        else:
            inner_key[0] = key if key < V6_BASE else v6fold[key - V6_BASE]
            backend = schedule(table, state, fstate, inner_key, times, out, i, i + 1, mode)
        if backend >= 0:
            persist_record(table, aff, key, backend, hit, now)
            if watches and hit < 0 and aff[META][MODE] == IPVS:  # a template can set the overload flag
                changed(table, state, fstate, EV_COUNTERS, backend)
    return backend


@kernel(refcount=False)
def affinity_changed(table, aff):
    """Endpoint order for the affinity rules; iptables / nftables drop the list of an endpoint that left."""
    meta, lists, rank = aff[META], aff[LISTS], aff[RANK]
    for b in range(rank.shape[0]):
        rank[b] = BIG
    for s in range(listed(table)):
        if table[WEIGHT, s] > 0:
            rank[table[BACKEND_ROW, s]] = s
    if meta[MODE] != IPVS:
        for b in range(lists.shape[0]):
            if lists[b, LENGTH] > 0 and rank[b] == BIG:
                h = lists[b, HEAD]
                while h >= 0:
                    delete_row(aff, h)
                    h = lists[b, HEAD]


@kernel(refcount=False)
def release_one(aff, client, b, now):
    """``release`` with a key: ipvs templates count their connections down."""
    if aff[META][MODE] == IPVS:
        template_release(aff, client, b, now)
    aff[TIMING][CLOCK] = now

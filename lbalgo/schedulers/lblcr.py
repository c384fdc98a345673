"""lblcr: locality-based least connection with replication (``net/netfilter/ipvs/ip_vs_lblcr.c``).

Like :mod:`.lblc`, but a busy destination address is served by a *set* of
backends that grows under load and shrinks when it has been stable for
``expiration``. State: a cache ``address -> (set, set.lastmod, lastuse)``;
same hash table and GC timer as lblc (here ``ip_vs_lblcr_check_expire`` and
``ip_vs_lblcr_full_check``, the counterparts of those in ``ip_vs_lblc.c``). ::

    pick(daddr, now):
        run the GC ticks due at or before now
        en = cache[daddr]
        if en:
            en.lastuse = now
            d = set_min(en.set)
            if |set| > 1 and now > set.lastmod + expiration:
                m = set_max(en.set); if m: remove m from the set; set.lastmod = now
            if d and not lbl_overloaded(d): return d     # d may be the member just removed
            d = wlc(); if none: return nothing
            if d not in set: insert d at the set HEAD; set.lastmod = now
            return d
        d = wlc(); if none: return nothing
        cache[daddr] = ({d}, lastmod = now, lastuse = now); return d

    set_min: least = first member (set order) not OVERLOAD, weight > 0, AVAILABLE;
             a later member m, not OVERLOAD, replaces it if
             overhead(least)*w(m) > overhead(m)*w(least) and m is AVAILABLE
    set_max: most = first member with weight > 0; a later member m replaces it if
             overhead(most)*w(m) < overhead(m)*w(most) and w(m) > 0
             (OVERLOAD and AVAILABLE are not looked at)

With equal loads both pick the set head, so after a quiet ``expiration`` the
backend returned is the one just dropped from the set. ``lbl_overloaded``
and ``wlc`` are lblc's. Unlike lblc, an entry is never replaced, so the
``entries`` counter IPVS keeps stays exact. Sets hold backend ids; the
rules read the table at each member's slot.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import BACKEND, F_AVAILABLE, F_OVERLOAD, FLAGS, SLOT, WEIGHT, overhead
from ._locality import (
    CLOCK,
    DEST,
    ENTRY_WIDTH,
    EXPIRATION,
    FREE_MEMBER,
    LASTMOD,
    LASTUSE,
    MEMBER_DEST,
    MEMBER_NEXT,
    MEMBER_WIDTH,
    MEMBERS_USED,
    SIZE,
    TIMES_WIDTH,
    LocalityScheduler,
    bucket_of,
    cache_find,
    cache_insert,
    lbl_overloaded,
    locality_schedule,
)
from .registry import register
from .wlc import wlc_scan


@kernel(refcount=False)
def set_min(table, entries, members, i):
    """Slot of the weighted least-loaded usable member of row ``i``'s set, or -1."""
    e = entries[ENTRY_WIDTH * i + DEST]
    least = -1
    loh = 0
    while e >= 0:
        member = MEMBER_WIDTH * e
        s = table[SLOT, members[member + MEMBER_DEST]]
        e = members[member + MEMBER_NEXT]
        if table[FLAGS, s] & F_OVERLOAD:
            continue
        if table[WEIGHT, s] > 0 and table[FLAGS, s] & F_AVAILABLE:
            least = s
            loh = overhead(table, s)
            break
    if least < 0:
        return -1
    while e >= 0:
        member = MEMBER_WIDTH * e
        s = table[SLOT, members[member + MEMBER_DEST]]
        e = members[member + MEMBER_NEXT]
        if table[FLAGS, s] & F_OVERLOAD:
            continue
        doh = overhead(table, s)
        if loh * table[WEIGHT, s] > doh * table[WEIGHT, least] and table[FLAGS, s] & F_AVAILABLE:
            least = s
            loh = doh
    return least


@kernel(refcount=False)
def set_max(table, entries, members, i):
    """Id of the weighted most-loaded member of row ``i``'s set with weight > 0, or -1."""
    e = entries[ENTRY_WIDTH * i + DEST]
    most = -1
    most_at = 0
    moh = 0
    while e >= 0:
        member = MEMBER_WIDTH * e
        b = members[member + MEMBER_DEST]
        s = table[SLOT, b]
        e = members[member + MEMBER_NEXT]
        if table[WEIGHT, s] > 0:
            most = b
            most_at = s
            moh = overhead(table, s)
            break
    if most < 0:
        return -1
    while e >= 0:
        member = MEMBER_WIDTH * e
        b = members[member + MEMBER_DEST]
        s = table[SLOT, b]
        e = members[member + MEMBER_NEXT]
        doh = overhead(table, s)
        # moh/w_most < doh/w_b, in integers
        if moh * table[WEIGHT, s] < doh * table[WEIGHT, most_at] and table[WEIGHT, s] > 0:
            most = b
            most_at = s
            moh = doh
    return most


@kernel(refcount=False)
def set_erase(state, entries, entry_times, members, i, backend, now):
    """Remove ``backend`` from row ``i``'s set (lastmod = now when it was there)."""
    row = ENTRY_WIDTH * i
    prev = -1
    e = entries[row + DEST]
    while e >= 0:
        member = MEMBER_WIDTH * e
        nxt = members[member + MEMBER_NEXT]
        if members[member + MEMBER_DEST] == backend:
            if prev < 0:
                entries[row + DEST] = nxt
            else:
                members[MEMBER_WIDTH * prev + MEMBER_NEXT] = nxt
            members[member + MEMBER_NEXT] = state[FREE_MEMBER]
            state[FREE_MEMBER] = e
            state[MEMBERS_USED] -= 1
            entries[row + SIZE] -= 1
            entry_times[TIMES_WIDTH * i + LASTMOD] = now
            return
        prev = e
        e = nxt


@kernel(refcount=False)
def set_insert(state, entries, entry_times, members, i, backend, now):
    """Add ``backend`` at the head of row ``i``'s set unless it is a member (then nothing changes).

    A new member takes a free row (the caller reserved it).
    """
    row = ENTRY_WIDTH * i
    e = entries[row + DEST]
    while e >= 0:
        if members[MEMBER_WIDTH * e + MEMBER_DEST] == backend:
            return
        e = members[MEMBER_WIDTH * e + MEMBER_NEXT]
    e = state[FREE_MEMBER]
    member = MEMBER_WIDTH * e
    state[FREE_MEMBER] = members[member + MEMBER_NEXT]
    state[MEMBERS_USED] += 1
    members[member + MEMBER_DEST] = backend
    members[member + MEMBER_NEXT] = entries[row + DEST]
    entries[row + DEST] = e
    entries[row + SIZE] += 1
    entry_times[TIMES_WIDTH * i + LASTMOD] = now


@kernel(inline="always")
def lblcr_decide(table, state, fstate, buckets, entries, entry_times, members, v6fold, key, now):
    """One lblcr decision once the GC ticks due have run: the chosen slot, or -1.

    Entry ``i``'s ``DEST`` is the first member row of its replica set in ``members``; see :mod:`._locality`.
    """
    fstate[CLOCK] = now
    bucket = bucket_of(v6fold, key)
    i = cache_find(buckets, entries, key, bucket)
    if i >= 0:
        entry_times[TIMES_WIDTH * i + LASTUSE] = now
        s = set_min(table, entries, members, i)
        if entries[ENTRY_WIDTH * i + SIZE] > 1 and \
                now > entry_times[TIMES_WIDTH * i + LASTMOD] + fstate[EXPIRATION]:
            m = set_max(table, entries, members, i)
            if m >= 0:
                set_erase(state, entries, entry_times, members, i, m, now)
        if s >= 0 and not lbl_overloaded(table, s):
            return s
        s = wlc_scan(table)
        if s < 0:
            return -1
        set_insert(state, entries, entry_times, members, i, table[BACKEND, s], now)
        return s
    s = wlc_scan(table)
    if s < 0:
        return -1
    i = cache_insert(state, buckets, entries, entry_times, key, bucket, now)
    set_insert(state, entries, entry_times, members, i, table[BACKEND, s], now)
    return s


@kernel(signature="schedule", refcount=False)
def lblcr_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule with the cache and GC timer of :mod:`._locality` and :func:`lblcr_decide`."""
    return locality_schedule(lblcr_decide, table, state, fstate, keys, times, out, first, last, mode)


@register
class LBLCR(LocalityScheduler):
    """Locality-based least connection with replication (IPVS ``lblcr``).

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; see :class:`~lbalgo.schedulers.base.Scheduler`.
    expiration : float
        Seconds: idle time after which a full GC sweep deletes an entry, and
        stable time after which a set of two or more drops its most loaded
        member (sysctl ``net.ipv4.vs.lblcr_expiration``, default 24 h).
    max_size : int
        Entry count above which the minute ticks sweep entries idle for
        6 minutes (default 16384).
    start : float
        Time the service was created: the GC timer ticks at ``start + 60 k``.
    """

    name = "lblcr"
    summary = "destination-address cache to a replica set that grows under load and shrinks when stable"
    source = "Linux IPVS ip_vs_lblcr.c"

    _replicated = True
    _schedule = lblcr_schedule

"""lblcr: locality-based least connection with replication (``net/netfilter/ipvs/ip_vs_lblcr.c``).

Like :mod:`.lblc`, but a busy destination address is served by a *set* of
backends that grows under load and shrinks when it has been stable for
``expiration``. State: a cache ``address -> (set, set.lastmod, lastuse)``;
same hash table and GC timer as lblc (§13–§14 of ``spec/ipvs.md``). ::

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
kernel's ``entries`` counter stays exact.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import ACTIVE, F_AVAILABLE, F_OVERLOAD, FLAGS, INACTIVE, WEIGHT
from .base import schedule_one
from ._locality import (
    DEST,
    E_COUNT,
    E_DEST,
    E_FREE,
    E_NEXT,
    EXPIRATION,
    LASTMOD,
    LASTUSE,
    NEXT_T,
    CLOCK,
    OVERFLOW,
    SIZE,
    LocalityScheduler,
    bucket_of,
    cache_find,
    cache_insert,
    gc_advance,
    lbl_overloaded,
    locality_batch,
    locality_changed,
)
from .registry import register
from .wlc import wlc_scan


@kernel(refcount=False)
def set_min(table, ent, elem, i):
    """Weighted least-loaded usable member of row ``i``'s set, or -1."""
    e = ent[i, DEST]
    least = -1
    loh = 0
    while e >= 0:
        b = elem[e, E_DEST]
        e = elem[e, E_NEXT]
        if table[b, FLAGS] & F_OVERLOAD:
            continue
        if table[b, WEIGHT] > 0 and table[b, FLAGS] & F_AVAILABLE:
            least = b
            loh = table[b, ACTIVE] * 256 + table[b, INACTIVE]
            break
    if least < 0:
        return -1
    while e >= 0:
        b = elem[e, E_DEST]
        e = elem[e, E_NEXT]
        if table[b, FLAGS] & F_OVERLOAD:
            continue
        doh = table[b, ACTIVE] * 256 + table[b, INACTIVE]
        if loh * table[b, WEIGHT] > doh * table[least, WEIGHT] and table[b, FLAGS] & F_AVAILABLE:
            least = b
            loh = doh
    return least


@kernel(refcount=False)
def set_max(table, ent, elem, i):
    """Weighted most-loaded member of row ``i``'s set with weight > 0, or -1."""
    e = ent[i, DEST]
    most = -1
    moh = 0
    while e >= 0:
        b = elem[e, E_DEST]
        e = elem[e, E_NEXT]
        if table[b, WEIGHT] > 0:
            most = b
            moh = table[b, ACTIVE] * 256 + table[b, INACTIVE]
            break
    if most < 0:
        return -1
    while e >= 0:
        b = elem[e, E_DEST]
        e = elem[e, E_NEXT]
        doh = table[b, ACTIVE] * 256 + table[b, INACTIVE]
        # moh/w_most < doh/w_b, in integers
        if moh * table[b, WEIGHT] < doh * table[most, WEIGHT] and table[b, WEIGHT] > 0:
            most = b
            moh = doh
    return most


@kernel(refcount=False)
def set_erase(meta, ent, entf, elem, i, backend, now):
    """Remove ``backend`` from row ``i``'s set (lastmod = now when it was there)."""
    prev = -1
    e = ent[i, DEST]
    while e >= 0:
        nxt = elem[e, E_NEXT]
        if elem[e, E_DEST] == backend:
            if prev < 0:
                ent[i, DEST] = nxt
            else:
                elem[prev, E_NEXT] = nxt
            elem[e, E_NEXT] = meta[E_FREE]
            meta[E_FREE] = e
            meta[E_COUNT] -= 1
            ent[i, SIZE] -= 1
            entf[i, LASTMOD] = now
            return
        prev = e
        e = nxt


@kernel(refcount=False)
def set_insert(meta, ent, entf, elem, i, backend, now):
    """Add ``backend`` at the head of row ``i``'s set unless it is a member (then nothing changes)."""
    e = ent[i, DEST]
    while e >= 0:
        if elem[e, E_DEST] == backend:
            return
        e = elem[e, E_NEXT]
    e = meta[E_FREE]
    if e < 0:
        meta[OVERFLOW] += 1  # the Python side reserves members, so this never happens
        return
    meta[E_FREE] = elem[e, E_NEXT]
    meta[E_COUNT] += 1
    elem[e, E_DEST] = backend
    elem[e, E_NEXT] = ent[i, DEST]
    ent[i, DEST] = e
    ent[i, SIZE] += 1
    entf[i, LASTMOD] = now


@kernel(refcount=False)
def lblcr_pick(table, order, state, key, now):
    """``state`` as lblc's; ``ent[i, DEST]`` is the head of the replica set."""
    meta, fmeta, buckets, ent, entf, elem, v6fold = state
    if now >= fmeta[NEXT_T]:
        gc_advance(meta, fmeta, buckets, ent, entf, elem, now)
    return lblcr_decide(table, order, state, key, now)


@kernel(refcount=False)
def lblcr_decide(table, order, state, key, now):
    """The decision once the GC ticks due are done (see :func:`locality_batch`)."""
    meta, fmeta, buckets, ent, entf, elem, v6fold = state
    fmeta[CLOCK] = now
    bucket = bucket_of(v6fold, key)
    i = cache_find(buckets, ent, key, bucket)
    if i >= 0:
        entf[i, LASTUSE] = now
        d = set_min(table, ent, elem, i)
        if ent[i, SIZE] > 1 and now > entf[i, LASTMOD] + fmeta[EXPIRATION]:
            m = set_max(table, ent, elem, i)
            if m >= 0:
                set_erase(meta, ent, entf, elem, i, m, now)
        if d >= 0 and not lbl_overloaded(table, order, d):
            return d
        d = wlc_scan(table, order)
        if d < 0:
            return -1
        set_insert(meta, ent, entf, elem, i, d, now)
        return d
    d = wlc_scan(table, order)
    if d < 0:
        return -1
    i = cache_insert(meta, buckets, ent, entf, key, bucket, now)
    if i >= 0:
        set_insert(meta, ent, entf, elem, i, d, now)
    return d


@kernel(refcount=False)
def _lblcr_one(table, order, state, key, now, as_active):
    return schedule_one(lblcr_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _lblcr_batch(table, order, state, keys, times, now, as_active, out):
    locality_batch(lblcr_decide, table, order, state, keys, times, now, as_active, out)


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
    _pick = lblcr_pick
    _changed = locality_changed
    _schedule_one = _lblcr_one
    _schedule_batch = _lblcr_batch

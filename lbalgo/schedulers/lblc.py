"""lblc: locality-based least connection, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_lblc.c``).

Meant for cache clusters reached by destination address (transparent proxies,
fwmark services): connections to one destination address stick to one
backend while it copes, so its cache stays warm. The key is the packet's
*destination* address. State: a cache ``address -> (backend, lastuse)`` in
1024 hash buckets and a garbage-collection timer. ::

    pick(daddr, now):
        run the GC ticks due at or before now (timers fire first)
        en = cache[daddr]
        if en:
            en.lastuse = now
            d = en.backend
            if d AVAILABLE and weight(d) > 0 and not lbl_overloaded(d): return d
        d = wlc()                      # weighted least connection, OVERLOAD skipped
        if none: return nothing        # (en.lastuse stays updated)
        if en and en.backend != d: en.backend = d    (IPVS: delete + re-create)
        elif not en: cache[daddr] = (d, lastuse = now)
        return d

    lbl_overloaded(d) = active(d) > weight(d) and some listed x has active(x)*2 < weight(x)

    wlc(): least = first listed backend not OVERLOAD with weight > 0;
           a later x (not OVERLOAD) wins if overhead(least)*w(x) > overhead(x)*w(least)
           overhead = active*256 + inactive

Edge rules: the cached path does NOT look at the threshold OVERLOAD flag (only
AVAILABLE, weight > 0 and the lbl rule); a cached backend that was removed
stays in the cache and only fails the AVAILABLE test; weight reads as a
connection capacity against *active* connections only, so for UDP (never
active) the lbl rule never fires.

GC timer (armed at construction, ``start``; ticks at start + 60 s, + 120 s, ...)::

    tick(t):
        if counter % 30 == 0: delete every entry with t >= lastuse + expiration; counter = 1
        elif entries <= max_size: counter += 1
        else:                              # size pressure
            goal = min((entries - max_size) * 4 // 3, max_size // 2)
            for buckets rover+1, rover+2, ... (wrapping, at most all 1024):
                delete the entries with t >= lastuse + 360 s; goal -= deletions
                stop after the bucket that brings goal <= 0
            rover = last bucket visited

So while the cache holds at most ``max_size`` (16384) entries it is purged only
every 30 minutes, of entries idle for ``expiration`` (24 h): an entry idle
for longer is still used until the next full sweep. ``entries`` is IPVS's
counter, which a replacement increments without the matching
decrement (mainline ``ip_vs_lblc_new`` deletes the old entry without
``atomic_dec``), so it can exceed the real number of entries.

The cache and its GC timer are shared with lblcr: see :mod:`._locality`.
Entries hold backend ids; the decision reads the table at the cached
backend's slot.
"""

from __future__ import annotations

from .._jit import kernel
from .._table import BACKEND, F_AVAILABLE, FLAGS, SLOT, WEIGHT
from ._locality import (
    CLOCK,
    DEST,
    ENTRY_COUNTER,
    ENTRY_WIDTH,
    LASTUSE,
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


@kernel(inline="always")
def lblc_decide(table, state, fstate, buckets, entries, entry_times, members, v6fold, key, now):
    """One lblc decision once the GC ticks due have run: the chosen slot, or -1.

    Entry ``i``'s ``DEST`` is the cached backend id (``members`` is unused); see :mod:`._locality`.
    """
    fstate[CLOCK] = now
    bucket = bucket_of(v6fold, key)
    i = cache_find(buckets, entries, key, bucket)
    if i >= 0:
        entry_times[TIMES_WIDTH * i + LASTUSE] = now
        s = table[SLOT, entries[ENTRY_WIDTH * i + DEST]]
        if table[FLAGS, s] & F_AVAILABLE and table[WEIGHT, s] > 0 and not lbl_overloaded(table, s):
            return s
    s = wlc_scan(table)
    if s < 0:
        return -1
    d = table[BACKEND, s]
    if i >= 0:
        if entries[ENTRY_WIDTH * i + DEST] != d:
            entries[ENTRY_WIDTH * i + DEST] = d
            state[ENTRY_COUNTER] += 1  # IPVS does not decrement its counter for the old entry
    else:
        i = cache_insert(state, buckets, entries, entry_times, key, bucket, now)
        entries[ENTRY_WIDTH * i + DEST] = d
    return s


@kernel(signature="schedule", refcount=False)
def lblc_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule with the cache and GC timer of :mod:`._locality` and :func:`lblc_decide`."""
    return locality_schedule(lblc_decide, table, state, fstate, keys, times, out, first, last, mode)


@register
class LBLC(LocalityScheduler):
    """Locality-based least connection (IPVS ``lblc``): one cached backend per destination address.

    Parameters
    ----------
    weights : sequence of int
        Weights in list order; see :class:`~lbalgo.schedulers.base.Scheduler`.
        lblc also reads a weight as a capacity in *active* connections.
    expiration : float
        Idle time in seconds after which a full GC sweep deletes an entry
        (sysctl ``net.ipv4.vs.lblc_expiration``, default 24 h).
    max_size : int
        Entry count above which the minute ticks sweep entries idle for
        6 minutes (default 16384 = 1024 buckets * 16).
    start : float
        Time the service was created: the GC timer ticks at ``start + 60 k``.
        ``now`` may never go back in time.
    """

    name = "lblc"
    summary = "destination-address cache to one backend, weighted least connection on a miss or overload"
    source = "Linux IPVS ip_vs_lblc.c"

    _schedule = lblc_schedule

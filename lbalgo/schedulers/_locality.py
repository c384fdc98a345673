"""The destination-address cache and GC timer of IPVS lblc and lblcr (``ip_vs_lblc.c``, ``ip_vs_lblcr.c``).

Both files are in Linux's ``net/netfilter/ipvs/``; the timer is ``ip_vs_lblc_check_expire``
with ``ip_vs_lblc_full_check``, and their lblcr counterparts.

The whole cache lives in the scheduler's two flat arrays (see
:mod:`._regions`): named header fields, then regions whose offsets and row
counts are header fields too::

    state (int64)    header: CACHE_SIZE, ENTRY_COUNTER, GC_COUNTER, ROVER, FREE_ENTRY, NEXT_TICK, MAX_SIZE,
                             FREE_MEMBER, MEMBERS_USED, REPLICATED, then the region fields
                     buckets  TAB_SIZE bucket heads (entry row, -1: empty)
                     folds    v6fold: the 32-bit fold of each IPv6 id
                     entries  rows of (KEY, NEXT in bucket, DEST, SIZE)
                     members  lblcr replica sets: rows of (MEMBER_DEST, MEMBER_NEXT)
    fstate (float64) header: CLOCK, START, EXPIRATION, NEXT_TICK_TIME, OLDEST
                     times    one row per entry: (LASTUSE, LASTMOD)

Kernels index the regions flat (:func:`cache_regions`: entry row ``i``'s
``NEXT`` is ``entries[ENTRY_WIDTH * i + NEXT]``); Python sees them as 2-D views.
Entry rows are chained per bucket, new ones at the head; free rows (entries
and members) sit on free lists. ``DEST`` is a backend *id* for lblc and the
first member row of the replica set for lblcr (``SIZE`` members, set order
head first). Keys are IPv4 addresses as they are, and IPv6 addresses as ids
``2**32 + i`` handed out by the class (full 128-bit identity), whose fold
IPVS hashes. Bucket = ``hash_32(fold, 10)``.

Every decision adds at most one entry and one set member. The Python class
grows the regions before a batch could run out of rows (:meth:`reserve`,
and ``pick`` / ``pick_many`` in chunks that fit), so the kernels always find
a free row: running out is not a state they handle. That growth, the clock
and the chunked ``pick_many`` are shared with ClientIP affinity
(:mod:`._keyed_cache`): this module names its free lists (:data:`ENTRY_ROWS`,
:data:`MEMBER_ROWS`) and its clock field (``CLOCK``, first in ``fstate``).

Kernels here are declared ``refcount=False`` (they never allocate): with
Numba's reference counting, the out-of-line GC call made every pick pay
atomic increments and decrements on its array arguments, about half the
cost of a cache hit.

GC ticks run lazily: before a decision at time ``now`` every tick due at or
before it runs, in order, at its own time (the real timer fires first when
both happen at the same instant). Stretches of ticks that can only count, or
can only repeat a sweep that deletes nothing, are skipped arithmetically.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

from .. import _validate
from .._jit import kernel
from .._table import ACTIVE, WEIGHT, account_at, item, listed
from ..errors import InvalidArgument, InvalidArgumentType
from ._identity_keys import V6_BASE
from ._keyed_cache import CLOCK, MAX_TIME, FreeList, KeyedCache
from ._regions import Layout, Region, region
from .base import Scheduler, no_change

TAB_BITS = 10
TAB_SIZE = 1 << TAB_BITS
TAB_MASK = TAB_SIZE - 1
GOLDEN_RATIO_32 = 0x61C88647
CHECK_INTERVAL = 60.0  # seconds between GC ticks
ENTRY_TIMEOUT = 360.0  # idle limit of the size-pressure sweep
FULL_EVERY = 30  # ticks between full expiration checks
DEFAULT_EXPIRATION = 86400.0
DEFAULT_MAX_SIZE = TAB_SIZE * 16

# state (int64) header fields
CACHE_SIZE = 0  # entry rows in use (cached addresses)
ENTRY_COUNTER = 1  # IPVS's ``tbl->entries``, which drives the size-pressure sweep (lblc can overcount)
GC_COUNTER = 2  # IPVS's ``tbl->counter`` of GC ticks: a full check when it is a multiple of FULL_EVERY
ROVER = 3  # the bucket where the last size-pressure sweep stopped
FREE_ENTRY = 4  # first free entry row (-1: none)
NEXT_TICK = 5  # index of the next GC tick (its time is START + CHECK_INTERVAL * NEXT_TICK)
MAX_SIZE = 6  # entry count above which the ticks sweep under size pressure
FREE_MEMBER = 7  # first free member row (-1: none)
MEMBERS_USED = 8  # member rows in use
REPLICATED = 9  # 1: entries hold replica sets (lblcr)
BUCKETS_AT, BUCKETS_ROWS = 10, 11  # region of the bucket heads
FOLDS_AT, FOLDS_ROWS = 12, 13  # region of the IPv6 folds (v6fold)
ENTRIES_AT, ENTRIES_ROWS = 14, 15  # region of the entry rows
MEMBERS_AT, MEMBERS_ROWS = 16, 17  # region of the member rows
TIMES_AT, TIMES_ROWS = 18, 19  # region of the entry times, in fstate (as many rows as entries)
N_HEADER = 20
# fstate (float64) header fields; CLOCK = 0, the time of the latest decision, is the keyed cache's
START = 1  # the GC timer's origin: ticks at START + 60 k, k >= 1
EXPIRATION = 2  # idle time after which a full check deletes an entry
NEXT_TICK_TIME = 3  # time of the next GC tick
OLDEST = 4  # scratch: oldest lastuse a sweep kept
N_FHEADER = 5
# columns of an entry row / an entry's times / a member row
KEY, NEXT, DEST, SIZE = range(4)
LASTUSE, LASTMOD = range(2)
MEMBER_DEST, MEMBER_NEXT = range(2)
ENTRY_WIDTH, TIMES_WIDTH, MEMBER_WIDTH = 4, 2, 2
# the two free lists: entry rows and (lblcr) member rows
ENTRY_ROWS = FreeList(used=CACHE_SIZE, free=FREE_ENTRY, link=NEXT)
MEMBER_ROWS = FreeList(used=MEMBERS_USED, free=FREE_MEMBER, link=MEMBER_NEXT)

BUCKETS = Region(BUCKETS_AT, BUCKETS_ROWS)
FOLDS = Region(FOLDS_AT, FOLDS_ROWS)
ENTRIES = Region(ENTRIES_AT, ENTRIES_ROWS, ENTRY_WIDTH)
MEMBERS = Region(MEMBERS_AT, MEMBERS_ROWS, MEMBER_WIDTH)
TIMES = Region(TIMES_AT, TIMES_ROWS, TIMES_WIDTH)
STATE_LAYOUT = Layout(N_HEADER, BUCKETS, FOLDS, ENTRIES, MEMBERS)
FSTATE_LAYOUT = Layout(N_FHEADER, TIMES)

INITIAL_FOLDS = 16


@kernel(inline="always")
def cache_regions(state, fstate):
    """Return the cache's regions, flat: ``(buckets, entries, entry_times, members, v6fold)``.

    Entry row ``i``'s column ``c`` is ``entries[ENTRY_WIDTH * i + c]`` (its times
    ``entry_times[TIMES_WIDTH * i + c]``), member row ``e``'s ``members[MEMBER_WIDTH * e + c]``.
    """
    return (region(state, state, BUCKETS_AT, BUCKETS_ROWS, 1),
            region(state, state, ENTRIES_AT, ENTRIES_ROWS, ENTRY_WIDTH),
            region(fstate, state, TIMES_AT, TIMES_ROWS, TIMES_WIDTH),
            region(state, state, MEMBERS_AT, MEMBERS_ROWS, MEMBER_WIDTH),
            region(state, state, FOLDS_AT, FOLDS_ROWS, 1))


# -- the hash table --------------------------------------------------------------
@kernel(refcount=False)
def bucket_of(v6fold, key):
    """``hash_32(fold(key), 10)``: the multiplicative hash's top 10 bits."""
    fold = key if key < V6_BASE else v6fold[key - V6_BASE]
    return ((fold * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - TAB_BITS)


@kernel(refcount=False)
def cache_find(buckets, entries, key, bucket):
    """Row of ``key`` in ``bucket``, or -1."""
    i = buckets[bucket]
    while i >= 0:
        row = ENTRY_WIDTH * i
        if entries[row + KEY] == key:
            return i
        i = entries[row + NEXT]
    return -1


@kernel(refcount=False)
def cache_insert(state, buckets, entries, entry_times, key, bucket, now):
    """Link a free row for ``key`` at the head of ``bucket``; return it (the caller reserved it)."""
    i = state[FREE_ENTRY]
    row = ENTRY_WIDTH * i
    state[FREE_ENTRY] = entries[row + NEXT]
    entries[row + KEY] = key
    entries[row + NEXT] = buckets[bucket]
    entries[row + DEST] = -1
    entries[row + SIZE] = 0
    entry_times[TIMES_WIDTH * i + LASTUSE] = now
    entry_times[TIMES_WIDTH * i + LASTMOD] = now
    buckets[bucket] = i
    state[CACHE_SIZE] += 1
    state[ENTRY_COUNTER] += 1
    return i


@kernel(refcount=False)
def release_row(state, entries, members, i):
    """Return row ``i`` (already unlinked) and its replica set to the free lists."""
    row = ENTRY_WIDTH * i
    if state[REPLICATED]:
        e = entries[row + DEST]
        while e >= 0:
            member = MEMBER_WIDTH * e
            nxt = members[member + MEMBER_NEXT]
            members[member + MEMBER_NEXT] = state[FREE_MEMBER]
            state[FREE_MEMBER] = e
            state[MEMBERS_USED] -= 1
            e = nxt
    entries[row + NEXT] = state[FREE_ENTRY]
    state[FREE_ENTRY] = i
    state[CACHE_SIZE] -= 1


@kernel(refcount=False)
def sweep_bucket(state, fstate, buckets, entries, entry_times, members, bucket, t, idle):
    """Delete the entries of ``bucket`` with ``t >= lastuse + idle``; return how many.

    Lowers ``fstate[OLDEST]`` to the oldest lastuse kept.
    """
    deleted = 0
    oldest = fstate[OLDEST]
    prev = -1
    i = buckets[bucket]
    while i >= 0:
        nxt = entries[ENTRY_WIDTH * i + NEXT]
        lastuse = entry_times[TIMES_WIDTH * i + LASTUSE]
        if t >= lastuse + idle:
            if prev < 0:
                buckets[bucket] = nxt
            else:
                entries[ENTRY_WIDTH * prev + NEXT] = nxt
            release_row(state, entries, members, i)
            deleted += 1
        else:
            if lastuse < oldest:
                oldest = lastuse
            prev = i
        i = nxt
    state[ENTRY_COUNTER] -= deleted
    fstate[OLDEST] = oldest
    return deleted


@kernel(refcount=False)
def full_check(state, fstate, buckets, entries, entry_times, members, t):
    """Run the full expiration check: every bucket, idle limit = expiration (rover unchanged)."""
    expiration = fstate[EXPIRATION]
    for b in range(TAB_SIZE):
        sweep_bucket(state, fstate, buckets, entries, entry_times, members, b, t, expiration)


@kernel(refcount=False)
def pressure_check(state, fstate, buckets, entries, entry_times, members, t):
    """Run the size-pressure sweep; return True when it changed nothing.

    Nothing changed means no deletion, and the rover came full circle.

    Leaves the oldest lastuse it saw in ``fstate[OLDEST]``.
    """
    fstate[OLDEST] = np.inf
    max_size = state[MAX_SIZE]
    goal = (state[ENTRY_COUNTER] - max_size) * 4 // 3
    if goal > max_size // 2:
        goal = max_size // 2
    j = state[ROVER]
    deleted = 0
    for _ in range(TAB_SIZE):
        j = (j + 1) & TAB_MASK
        n = sweep_bucket(state, fstate, buckets, entries, entry_times, members, j, t, ENTRY_TIMEOUT)
        deleted += n
        goal -= n
        if goal <= 0:
            state[ROVER] = j
            return False
    state[ROVER] = j
    return deleted == 0


@kernel(refcount=False)
def last_tick_at(start, now):
    """Index of the last tick with time ``start + 60*k <= now`` (0 if none)."""
    if now < start + CHECK_INTERVAL:
        return 0
    k = np.int64((now - start) / CHECK_INTERVAL)
    while start + CHECK_INTERVAL * (k + 1) <= now:
        k += 1
    while k > 0 and start + CHECK_INTERVAL * k > now:
        k -= 1
    return k


@kernel(refcount=False)
def skip_to(start, k, last, target):
    """Return the first tick index >= ``k`` whose time reaches ``target`` (at most ``last + 1``)."""
    if not target <= start + CHECK_INTERVAL * (last + 1):  # also catches target = inf
        return last + 1
    kk = np.int64((target - start) / CHECK_INTERVAL)
    if kk < k:
        kk = k
    while kk > k and start + CHECK_INTERVAL * (kk - 1) >= target:
        kk -= 1
    while start + CHECK_INTERVAL * kk < target:
        kk += 1
    return kk if kk <= last else last + 1


@kernel(refcount=False)
def gc_advance(state, fstate, buckets, entries, entry_times, members, now):
    """Run every GC tick due at or before ``now``, in order (timers fire before the pick).

    Stretches where a tick can only move the counter, or can only repeat a
    sweep that finds nothing, are skipped arithmetically; the result is the
    same as running them one by one.
    """
    start = fstate[START]
    k = state[NEXT_TICK]
    last = last_tick_at(start, now)
    while k <= last:
        c = state[GC_COUNTER]
        full = -1  # tick index of the full check to run, if any
        if c % FULL_EVERY == 0:
            full = k
            state[GC_COUNTER] = 1
            k += 1
        elif state[ENTRY_COUNTER] <= state[MAX_SIZE]:
            # Only the counter moves until the next full check, and full checks
            # only delete, so the last one due stands for all of them.
            first_full = k + (FULL_EVERY - c)
            if last < first_full:
                state[GC_COUNTER] = c + (last - k + 1)
            else:
                full = first_full + ((last - first_full) // FULL_EVERY) * FULL_EVERY
                state[GC_COUNTER] = 1 + (last - full)
            k = last + 1
        elif pressure_check(state, fstate, buckets, entries, entry_times, members,
                            start + CHECK_INTERVAL * k):
            # Nothing changed (no deletion, the rover came full circle), and
            # nothing can be deleted before the oldest entry is idle for 360 s.
            k = skip_to(start, k + 1, last, fstate[OLDEST] + ENTRY_TIMEOUT)
        else:
            k += 1
        if full >= 0:
            full_check(state, fstate, buckets, entries, entry_times, members, start + CHECK_INTERVAL * full)
    state[NEXT_TICK] = k
    fstate[NEXT_TICK_TIME] = start + CHECK_INTERVAL * k


@kernel(refcount=False)
def gc_run(state, fstate, now):
    """Run the GC ticks due at or before ``now`` and set the clock (``advance`` from Python)."""
    if now >= fstate[NEXT_TICK_TIME]:
        buckets, entries, entry_times, members, v6fold = cache_regions(state, fstate)
        gc_advance(state, fstate, buckets, entries, entry_times, members, now)
    fstate[CLOCK] = now


# -- the shared decision rules --------------------------------------------------------
@kernel(refcount=False)
def lbl_overloaded(table, s):
    """Whether slot ``s`` has ``active > weight`` while some listed backend has ``active*2 < weight``."""
    if table[ACTIVE, s] > table[WEIGHT, s]:
        active = table[ACTIVE]
        weight = table[WEIGHT]
        for x in range(listed(table)):
            if active[x] * 2 < weight[x]:
                return True
    return False


@kernel(inline="always")
def locality_schedule(decide, table, state, fstate, keys, times, out, first, last, mode):
    """Run the ``schedule`` kernel of lblc and lblcr, given the decision ``decide``.

    ``decide(table, state, fstate, buckets, entries, entry_times, members, v6fold, key, now)``
    is the pick once the GC ticks due have run; it returns a slot (-1: none).
    Running the ticks here rather than inside ``decide`` measured about 1.5x
    faster per cache hit, and declaring ``decide`` ``inline="always"`` about
    1.4x faster again at 10 backends (an out-of-line call passes every
    region as an array argument).
    """
    buckets, entries, entry_times, members, v6fold = cache_regions(state, fstate)
    backend = -1
    for i in range(first, last):
        t = item(times, i)
        if t >= fstate[NEXT_TICK_TIME]:
            gc_advance(state, fstate, buckets, entries, entry_times, members, t)
        s = decide(table, state, fstate, buckets, entries, entry_times, members, v6fold, item(keys, i), t)
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


# -- the Python side, shared with lblcr --------------------------------------------------
class LblcEntry(NamedTuple):
    """One lblc cache entry: the backend and when the address was last scheduled."""

    backend: int
    lastuse: float


class LblcrEntry(NamedTuple):
    """One lblcr cache entry: the replica set (set order, head first) and its times."""

    backends: tuple
    lastuse: float
    lastmod: float


class LocalityScheduler(KeyedCache, Scheduler):
    """Shared cache handling of :class:`LBLC` and :class:`LBLCR`: state layout, GC clock, growth hooks.

    Growth, the clock rule and the chunked ``pick_many`` are :class:`KeyedCache`'s.
    """

    _key_role = "the destination address"
    keyed = True
    destination_keyed = True
    scans_pool = True  # a miss, or an overloaded cached backend, runs the wlc scan
    _changed = no_change  # lblc and lblcr have no add/del/upd hooks: the cache outlives pool edits
    _replicated = False
    _initial_rows = 256

    def __init__(self, weights=None, *, expiration: float = DEFAULT_EXPIRATION,
                 max_size: int = DEFAULT_MAX_SIZE, start: float = 0.0, **options) -> None:
        exp = _validate.time(expiration, "expiration")
        if exp < 0:
            raise InvalidArgument(f"expiration must be >= 0 seconds, got {exp}")
        self.expiration = exp
        self.max_size = _validate.count(max_size, "max_size")
        if self.max_size > 2**31 - 1:
            raise InvalidArgument(f"max_size must be < 2**31, got {self.max_size}")
        self.start = _validate.time(start, "start")
        if abs(self.start) > MAX_TIME:
            raise InvalidArgument(f"start must be within +-{MAX_TIME:g} s, got {self.start}")
        self._init_identity_keys()
        super().__init__(weights, **options)

    # -- state ---------------------------------------------------------------------------
    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._initial_rows
        member_rows = rows if self._replicated else 0
        state = STATE_LAYOUT.new([TAB_SIZE, INITIAL_FOLDS, rows, member_rows], np.int64)
        state[GC_COUNTER] = 1
        state[MAX_SIZE] = self.max_size
        state[NEXT_TICK] = 1
        state[REPLICATED] = 1 if self._replicated else 0
        STATE_LAYOUT.view(state, BUCKETS)[:] = -1
        ENTRY_ROWS.fill(state, STATE_LAYOUT.view(state, ENTRIES))
        MEMBER_ROWS.fill(state, STATE_LAYOUT.view(state, MEMBERS))  # lblc: no rows, FREE_MEMBER = -1
        fstate = FSTATE_LAYOUT.new([rows], np.float64, index=state)
        fstate[START] = self.start
        fstate[CLOCK] = self.start
        fstate[EXPIRATION] = self.expiration
        fstate[NEXT_TICK_TIME] = self.start + CHECK_INTERVAL
        return state, fstate

    # -- the keyed cache's hooks ----------------------------------------------------------
    @property
    def _timing(self) -> np.ndarray:
        return self.fstate

    def _grow(self, picks: int) -> None:
        state, fstate = self.state, self.fstate
        rows = int(state[ENTRIES_ROWS])
        new = ENTRY_ROWS.grown_rows(state, rows, picks)
        if new:  # an entry's times are a region of fstate: they grow with it
            state = STATE_LAYOUT.grown(state, ENTRIES, new)
            fstate = FSTATE_LAYOUT.grown(fstate, TIMES, new, index=state)
            ENTRY_ROWS.push_new(state, STATE_LAYOUT.view(state, ENTRIES), rows)
        if self._replicated:
            rows = int(state[MEMBERS_ROWS])
            new = MEMBER_ROWS.grown_rows(state, rows, picks)
            if new:
                state = STATE_LAYOUT.grown(state, MEMBERS, new)
                MEMBER_ROWS.push_new(state, STATE_LAYOUT.view(state, MEMBERS), rows)
        self.state, self.fstate = state, fstate

    def _room(self) -> int:
        state = self.state
        free = ENTRY_ROWS.room(state, int(state[ENTRIES_ROWS]))
        if self._replicated:
            free = min(free, MEMBER_ROWS.room(state, int(state[MEMBERS_ROWS])))
        return free

    def _table_rows(self) -> int:
        return int(self.state[ENTRIES_ROWS])

    def _run_chunk(self, keys: np.ndarray, times: np.ndarray, out: np.ndarray, first: int, last: int) -> None:
        pool = self.pool
        self._schedule.entry(pool.table, self.state, self.fstate, keys, times, out, first, last,
                             pool.count_mode)

    def _time_error(self, t: float) -> str:
        if not t <= MAX_TIME:
            return f"now must be a finite time below {MAX_TIME:g} s, got {t}"
        return (f"now = {t} goes back in time: {self.name} already ran at {self.clock} "
                "(its cache expiry needs non-decreasing times)")

    # -- keys ------------------------------------------------------------------------------
    def _store_v6_fold(self, index: int, fold: int) -> None:
        rows = int(self.state[FOLDS_ROWS])
        if index >= rows:
            self.state = STATE_LAYOUT.grown(self.state, FOLDS, max(2 * rows, index + 1))
        STATE_LAYOUT.view(self.state, FOLDS)[index] = fold

    # -- time ---------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Run the GC ticks due at or before ``now`` without scheduling anything."""
        t = _validate.time(now)
        self._check_time(t)
        gc_run(self.state, self.fstate, t)

    # -- scheduling -----------------------------------------------------------------------------
    def pick(self, key: Any = None, now: float = 0.0) -> int:
        """Schedule one new connection to destination ``key`` at time ``now``; return the backend id.

        Raises
        ------
        NoBackendAvailable
            When neither the cache nor weighted least connection gives a backend.
        ValueError
            When ``now`` is earlier than a previous decision.
        """
        if type(now) is not float:
            now = _validate.time(now)
        k = self._key(key)
        if not self.fstate[CLOCK] <= now <= MAX_TIME:  # the clock rule inline (pick is the hot path) ...
            self._check_time(now)  # ... and the shared check for its message
        return self._schedule_one(k, now)

    def _schedule_one(self, key: int, now: float) -> int:
        """One decision with converted arguments (also what a wrapper such as ClientIPAffinity calls)."""
        state = self.state
        # Checked here, on demand, for every pick (batches grow ahead instead, in _run).
        if state[ENTRIES_ROWS] <= state[CACHE_SIZE] or (
                self._replicated and state[MEMBERS_ROWS] <= state[MEMBERS_USED]):
            self.reserve(1)
        return super()._schedule_one(key, now)

    def pick_many(self, keys_or_count: Any, now: Any = None) -> np.ndarray:
        """Schedule one new connection per destination address, in order.

        Parameters
        ----------
        keys_or_count : array of keys
            Destination addresses: a 1-D integer array of IPv4 addresses, an
            ``(n, 4)`` array of IPv6 words (most significant first), or a
            sequence of address strings / ``ipaddress`` objects.
        now : float or array of float, optional
            One time for all, or one non-decreasing time per connection
            (default: the scheduler's clock).

        Returns
        -------
        numpy.ndarray of int64
            The backend id per connection, ``-1`` where none was available.
        """
        if isinstance(keys_or_count, numbers.Integral) and not isinstance(keys_or_count, (bool, np.bool_)):
            raise InvalidArgumentType(f"{type(self).__name__}.pick_many() needs an array of destination "
                                      "addresses, not a count")
        keys = self._keys(keys_or_count)
        n = len(keys)
        if now is None:
            times = np.array([self.fstate[CLOCK]], dtype=np.float64)
        elif np.ndim(now) == 0:
            t = _validate.time(now)
            self._check_time(t)
            times = np.array([t], dtype=np.float64)
        else:
            times = np.ascontiguousarray(now, dtype=np.float64)
            if times.ndim != 1 or len(times) != n:
                raise InvalidArgument(f"now has shape {times.shape} but there are {n} connections")
            if not np.isfinite(times).all():
                raise InvalidArgument("now contains NaN or infinite times")
            self._check_times(times)
        out = np.empty(n, dtype=np.int64)
        self._run(keys, times, out)
        return out

    # -- inspection --------------------------------------------------------------------------------
    @property
    def cache_size(self) -> int:
        """Number of cached destination addresses."""
        return int(self.state[CACHE_SIZE])

    @property
    def entry_counter(self) -> int:
        """IPVS's ``entries`` counter of the cache, which drives the size-pressure sweep.

        For lblc it counts every replacement too (see the module docstring),
        so it can exceed :attr:`cache_size`.
        """
        return int(self.state[ENTRY_COUNTER])

    @property
    def gc_counter(self) -> int:
        """The GC tick counter (a full expiration check runs when it is a multiple of 30)."""
        return int(self.state[GC_COUNTER])

    @property
    def rover(self) -> int:
        """The bucket where the last size-pressure sweep stopped."""
        return int(self.state[ROVER])

    @property
    def next_tick(self) -> float:
        """Time of the next GC tick."""
        return float(self.fstate[NEXT_TICK_TIME])

    def _rows(self):
        buckets = STATE_LAYOUT.view(self.state, BUCKETS)
        entries = STATE_LAYOUT.view(self.state, ENTRIES)
        for b in range(TAB_SIZE):
            i = int(buckets[b])
            while i >= 0:
                yield i
                i = int(entries[i, NEXT])

    def cache_entries(self) -> dict:
        """Return the cached destination addresses and their entries, in bucket order (bucket heads first).

        Entries are :class:`LblcEntry` (lblc) or :class:`LblcrEntry` (lblcr).
        Expired entries stay until a GC tick deletes them; call :meth:`advance`
        first to see the cache as it is at a later time.
        """
        entries = STATE_LAYOUT.view(self.state, ENTRIES)
        members = STATE_LAYOUT.view(self.state, MEMBERS)
        entry_times = FSTATE_LAYOUT.view(self.fstate, TIMES, index=self.state)
        out = {}
        for i in self._rows():
            addr = self._address(int(entries[i, KEY]))
            if self._replicated:
                backends = []
                e = int(entries[i, DEST])
                while e >= 0:
                    backends.append(int(members[e, MEMBER_DEST]))
                    e = int(members[e, MEMBER_NEXT])
                out[addr] = LblcrEntry(tuple(backends), float(entry_times[i, LASTUSE]),
                                       float(entry_times[i, LASTMOD]))
            else:
                out[addr] = LblcEntry(int(entries[i, DEST]), float(entry_times[i, LASTUSE]))
        return out

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        return f"{type(self).__name__}(weights={w}, cached={self.cache_size}, clock={self.clock})"

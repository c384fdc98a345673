"""The destination-address cache and GC timer of IPVS lblc and lblcr (spec/ipvs.md §13-§14).

Cache layout (shared with :mod:`.lblcr`): bucket heads ``int64[1024]``; entries
in ``int64[C, 4]`` (key, next in bucket, backend or set head, set size) and
``float64[C, 2]`` (lastuse, lastmod) rows chained per bucket, free rows on a
free list; replica sets (lblcr) in ``int64[E, 2]`` (backend, next) rows. The
Python class grows the arrays before a batch could run out of rows (each pick
adds at most one entry and one set member). Keys are IPv4 addresses as they
are, and IPv6 addresses as ids ``2**32 + i`` handed out by the class (full
128-bit identity); ``v6fold[i]`` holds the 32-bit fold IPVS hashes. Bucket =
``hash_32(fold, 10)``.

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
from .._table import ACTIVE, WEIGHT, bind
from ._identity_keys import V6_BASE, AddressIdentityKeys
from .base import Scheduler

TAB_BITS = 10
TAB_SIZE = 1 << TAB_BITS
TAB_MASK = TAB_SIZE - 1
GOLDEN_RATIO_32 = 0x61C88647
CHECK_INTERVAL = 60.0  # seconds between GC ticks
ENTRY_TIMEOUT = 360.0  # idle limit of the size-pressure sweep
FULL_EVERY = 30  # ticks between full expiration checks
DEFAULT_EXPIRATION = 86400.0
DEFAULT_MAX_SIZE = TAB_SIZE * 16
MAX_TIME = 1e15  # seconds; keeps tick indices far from int64 limits

# meta (int64) slots
COUNT, ENTRIES, COUNTER, ROVER, FREE, TICK, MAX_SIZE, E_FREE, E_COUNT, OVERFLOW, REPLICATED = range(11)
N_META = 11
# fmeta (float64) slots
START, CLOCK, EXPIRATION, NEXT_T, OLDEST = range(5)
# ent columns / entf columns / elem columns
KEY, NEXT, DEST, SIZE = range(4)
LASTUSE, LASTMOD = range(2)
E_DEST, E_NEXT = range(2)


# -- the hash table --------------------------------------------------------------
@kernel(refcount=False)
def bucket_of(v6fold, key):
    """``hash_32(fold(key), 10)``: the multiplicative hash's top 10 bits."""
    fold = key if key < V6_BASE else v6fold[key - V6_BASE]
    return ((fold * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - TAB_BITS)


@kernel(refcount=False)
def cache_find(buckets, ent, key, bucket):
    """Row of ``key`` in ``bucket``, or -1."""
    i = buckets[bucket]
    while i >= 0:
        if ent[i, KEY] == key:
            return i
        i = ent[i, NEXT]
    return -1


@kernel(refcount=False)
def cache_insert(meta, buckets, ent, entf, key, bucket, now):
    """Link a new row for ``key`` at the head of ``bucket``; -1 if no free row."""
    i = meta[FREE]
    if i < 0:
        meta[OVERFLOW] += 1  # the Python side reserves rows, so this never happens
        return -1
    meta[FREE] = ent[i, NEXT]
    ent[i, KEY] = key
    ent[i, NEXT] = buckets[bucket]
    ent[i, DEST] = -1
    ent[i, SIZE] = 0
    entf[i, LASTUSE] = now
    entf[i, LASTMOD] = now
    buckets[bucket] = i
    meta[COUNT] += 1
    meta[ENTRIES] += 1
    return i


@kernel(refcount=False)
def release_row(meta, ent, elem, i):
    """Return row ``i`` (already unlinked) and its replica set to the free lists."""
    if meta[REPLICATED]:
        e = ent[i, DEST]
        while e >= 0:
            nxt = elem[e, E_NEXT]
            elem[e, E_NEXT] = meta[E_FREE]
            meta[E_FREE] = e
            meta[E_COUNT] -= 1
            e = nxt
    ent[i, NEXT] = meta[FREE]
    meta[FREE] = i
    meta[COUNT] -= 1


@kernel(refcount=False)
def sweep_bucket(meta, fmeta, buckets, ent, entf, elem, bucket, t, idle):
    """Delete the entries of ``bucket`` with ``t >= lastuse + idle``; return how many.

    Lowers ``fmeta[OLDEST]`` to the oldest lastuse kept.
    """
    deleted = 0
    oldest = fmeta[OLDEST]
    prev = -1
    i = buckets[bucket]
    while i >= 0:
        nxt = ent[i, NEXT]
        if t >= entf[i, LASTUSE] + idle:
            if prev < 0:
                buckets[bucket] = nxt
            else:
                ent[prev, NEXT] = nxt
            release_row(meta, ent, elem, i)
            deleted += 1
        else:
            if entf[i, LASTUSE] < oldest:
                oldest = entf[i, LASTUSE]
            prev = i
        i = nxt
    meta[ENTRIES] -= deleted
    fmeta[OLDEST] = oldest
    return deleted


@kernel(refcount=False)
def full_check(meta, fmeta, buckets, ent, entf, elem, t):
    """The full expiration check: every bucket, idle limit = expiration (rover unchanged)."""
    expiration = fmeta[EXPIRATION]
    for b in range(TAB_SIZE):
        sweep_bucket(meta, fmeta, buckets, ent, entf, elem, b, t, expiration)


@kernel(refcount=False)
def pressure_check(meta, fmeta, buckets, ent, entf, elem, t):
    """The size-pressure sweep. True when it changed nothing (no deletion, the rover came full circle).

    Leaves the oldest lastuse it saw in ``fmeta[OLDEST]``.
    """
    fmeta[OLDEST] = np.inf
    max_size = meta[MAX_SIZE]
    goal = (meta[ENTRIES] - max_size) * 4 // 3
    if goal > max_size // 2:
        goal = max_size // 2
    j = meta[ROVER]
    deleted = 0
    for _ in range(TAB_SIZE):
        j = (j + 1) & TAB_MASK
        n = sweep_bucket(meta, fmeta, buckets, ent, entf, elem, j, t, ENTRY_TIMEOUT)
        deleted += n
        goal -= n
        if goal <= 0:
            meta[ROVER] = j
            return False
    meta[ROVER] = j
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
    """The first tick index >= ``k`` whose time reaches ``target`` (at most ``last + 1``)."""
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
def gc_advance(meta, fmeta, buckets, ent, entf, elem, now):
    """Run every GC tick due at or before ``now``, in order (timers fire before the pick).

    Stretches where a tick can only move the counter, or can only repeat a
    sweep that finds nothing, are skipped arithmetically; the result is the
    same as running them one by one.
    """
    start = fmeta[START]
    k = meta[TICK]
    last = last_tick_at(start, now)
    while k <= last:
        c = meta[COUNTER]
        full = -1  # tick index of the full check to run, if any
        if c % FULL_EVERY == 0:
            full = k
            meta[COUNTER] = 1
            k += 1
        elif meta[ENTRIES] <= meta[MAX_SIZE]:
            # Only the counter moves until the next full check, and full checks
            # only delete, so the last one due stands for all of them.
            first_full = k + (FULL_EVERY - c)
            if last < first_full:
                meta[COUNTER] = c + (last - k + 1)
            else:
                full = first_full + ((last - first_full) // FULL_EVERY) * FULL_EVERY
                meta[COUNTER] = 1 + (last - full)
            k = last + 1
        elif pressure_check(meta, fmeta, buckets, ent, entf, elem, start + CHECK_INTERVAL * k):
            # Nothing changed (no deletion, the rover came full circle), and
            # nothing can be deleted before the oldest entry is idle for 360 s.
            k = skip_to(start, k + 1, last, fmeta[OLDEST] + ENTRY_TIMEOUT)
        else:
            k += 1
        if full >= 0:
            full_check(meta, fmeta, buckets, ent, entf, elem, start + CHECK_INTERVAL * full)
    meta[TICK] = k
    fmeta[NEXT_T] = start + CHECK_INTERVAL * k


# -- the shared decision rules --------------------------------------------------------
@kernel(refcount=False)
def lbl_overloaded(table, order, backend):
    """``active > weight`` while some listed backend has ``active*2 < weight``."""
    if table[backend, ACTIVE] > table[backend, WEIGHT]:
        for p in range(1, order[0] + 1):
            x = order[p]
            if table[x, ACTIVE] * 2 < table[x, WEIGHT]:
                return True
    return False


@kernel(inline="always")
def locality_batch(decide, table, order, state, keys, times, now, as_active, out):
    """``schedule_batch`` with the GC ticks run in the loop rather than inside ``decide``.

    Same contract as :func:`~lbalgo.schedulers.base.schedule_batch`;
    ``decide`` is the pick without the GC step. Measured about 1.5x faster
    per cache hit than binding the full pick into ``schedule_batch``.
    """
    meta, fmeta, buckets, ent, entf, elem, v6fold = state
    have_keys = keys.shape[0] > 0
    have_times = times.shape[0] > 0
    for i in range(out.shape[0]):
        key = keys[i] if have_keys else 0
        t = times[i] if have_times else now
        if t >= fmeta[NEXT_T]:
            gc_advance(meta, fmeta, buckets, ent, entf, elem, t)
        backend = decide(table, order, state, key, t)
        if backend >= 0:
            bind(table, backend, as_active)
        out[i] = backend


@kernel(refcount=False)
def locality_changed(table, order, state, event, pos):
    """lblc and lblcr have no add/del/upd hooks: the cache outlives pool edits."""
    return


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


def _new_rows(n: int, width: int, dtype: Any) -> np.ndarray:
    return np.zeros((n, width), dtype=dtype)


class LocalityScheduler(AddressIdentityKeys, Scheduler):
    """Shared cache handling of :class:`LBLC` and :class:`LBLCR` (keys, time, capacity)."""

    _key_role = "the destination address"
    keyed = True
    _replicated = False
    _initial_rows = 256

    def __init__(self, weights=None, *, expiration: float = DEFAULT_EXPIRATION,
                 max_size: int = DEFAULT_MAX_SIZE, start: float = 0.0, **options) -> None:
        exp = _validate.time(expiration, "expiration")
        if exp < 0:
            raise ValueError(f"expiration must be >= 0 seconds, got {exp}")
        self.expiration = exp
        self.max_size = _validate.count(max_size, "max_size")
        if self.max_size > 2**31 - 1:
            raise ValueError(f"max_size must be < 2**31, got {self.max_size}")
        self.start = _validate.time(start, "start")
        if abs(self.start) > MAX_TIME:
            raise ValueError(f"start must be within +-{MAX_TIME:g} s, got {self.start}")
        self._init_identity_keys()
        super().__init__(weights, **options)

    # -- state ---------------------------------------------------------------------------
    def _new_state(self) -> tuple[np.ndarray, ...]:
        rows = self._initial_rows
        meta = np.zeros(N_META, dtype=np.int64)
        meta[COUNTER] = 1
        meta[MAX_SIZE] = self.max_size
        meta[TICK] = 1
        meta[REPLICATED] = 1 if self._replicated else 0
        fmeta = np.zeros(5, dtype=np.float64)
        fmeta[START] = self.start
        fmeta[CLOCK] = self.start
        fmeta[EXPIRATION] = self.expiration
        fmeta[NEXT_T] = self.start + CHECK_INTERVAL
        buckets = np.full(TAB_SIZE, -1, dtype=np.int64)
        ent = _new_rows(rows, 4, np.int64)
        ent[:, NEXT] = np.arange(1, rows + 1)
        ent[-1, NEXT] = -1
        meta[FREE] = 0
        erows = rows if self._replicated else 1
        elem = _new_rows(erows, 2, np.int64)
        elem[:, E_NEXT] = np.arange(1, erows + 1)
        elem[-1, E_NEXT] = -1
        meta[E_FREE] = 0 if self._replicated else -1
        v6fold = np.zeros(16, dtype=np.int64)
        return (meta, fmeta, buckets, ent, np.zeros((rows, 2), dtype=np.float64), elem, v6fold)

    def reserve(self, picks: int) -> None:
        """Make room for ``picks`` more decisions (for compiled callers of the pick kernel).

        Each decision adds at most one cache entry and one replica-set member;
        ``pick`` and ``pick_many`` reserve on their own.
        """
        picks = _validate.count(picks, "picks")
        meta, fmeta, buckets, ent, entf, elem, v6fold = self.state
        rows = ent.shape[0]
        if rows - meta[COUNT] < picks:
            new = max(2 * rows, int(meta[COUNT]) + picks)
            ent2 = _new_rows(new, 4, np.int64)
            ent2[:rows] = ent
            entf2 = _new_rows(new, 2, np.float64)
            entf2[:rows] = entf
            ent2[rows:, NEXT] = np.arange(rows + 1, new + 1)
            ent2[-1, NEXT] = meta[FREE]
            meta[FREE] = rows
            ent, entf = ent2, entf2
        erows = elem.shape[0]
        if self._replicated and erows - meta[E_COUNT] < picks:
            new = max(2 * erows, int(meta[E_COUNT]) + picks)
            elem2 = _new_rows(new, 2, np.int64)
            elem2[:erows] = elem
            elem2[erows:, E_NEXT] = np.arange(erows + 1, new + 1)
            elem2[-1, E_NEXT] = meta[E_FREE]
            meta[E_FREE] = erows
            elem = elem2
        self.state = (meta, fmeta, buckets, ent, entf, elem, v6fold)

    def _room(self) -> int:
        meta, ent, elem = self.state[0], self.state[3], self.state[5]
        free = ent.shape[0] - int(meta[COUNT])
        if self._replicated:
            free = min(free, elem.shape[0] - int(meta[E_COUNT]))
        return free

    # -- keys ------------------------------------------------------------------------------
    def _store_v6_fold(self, index: int, fold: int) -> None:
        v6fold = self.state[6]
        if index >= len(v6fold):
            grown = np.zeros(2 * len(v6fold), dtype=np.int64)
            grown[: len(v6fold)] = v6fold
            self.state = self.state[:6] + (grown,)
            v6fold = grown
        v6fold[index] = fold

    # -- time ---------------------------------------------------------------------------------
    @property
    def clock(self) -> float:
        """Time of the latest decision (or ``start``); ``now`` may not go below it."""
        return float(self.state[1][CLOCK])

    def _check_time(self, t: float) -> None:
        clock = self.state[1][CLOCK]
        if not clock <= t <= MAX_TIME:
            if not t <= MAX_TIME:
                raise ValueError(f"now must be a finite time below {MAX_TIME:g} s, got {t}")
            raise ValueError(f"now = {t} goes back in time: {self.name} already ran at {float(clock)} "
                             "(its cache expiry needs non-decreasing times)")

    def advance(self, now: float) -> None:
        """Run the GC ticks due at or before ``now`` without scheduling anything."""
        t = _validate.time(now)
        self._check_time(t)
        if t >= self.state[1][NEXT_T]:
            gc_advance(*self.state[:6], t)
        self.state[1][CLOCK] = t

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
        self._check_time(now)
        meta = self.state[0]
        if self.state[3].shape[0] <= meta[COUNT] or (
                self._replicated and self.state[5].shape[0] <= meta[E_COUNT]):
            self.reserve(1)
        return self._schedule(k, now)

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
            raise TypeError(f"{type(self).__name__}.pick_many() needs an array of destination addresses, "
                            "not a count")
        keys = self._keys(keys_or_count)
        n = len(keys)
        if now is None:
            times, t = np.zeros(0, dtype=np.float64), float(self.state[1][CLOCK])
        elif np.ndim(now) == 0:
            times, t = np.zeros(0, dtype=np.float64), _validate.time(now)
            self._check_time(t)
        else:
            times = np.ascontiguousarray(now, dtype=np.float64)
            if times.ndim != 1 or len(times) != n:
                raise ValueError(f"now has shape {times.shape} but there are {n} connections")
            if not np.isfinite(times).all():
                raise ValueError("now contains NaN or infinite times")
            if n and np.any(np.diff(times) < 0):
                i = int(np.flatnonzero(np.diff(times) < 0)[0]) + 1
                raise ValueError(f"now[{i}] = {times[i]} goes back in time (times must be non-decreasing)")
            if n:
                self._check_time(float(times[0]))
                self._check_time(float(times[-1]))
            t = 0.0
        out = np.empty(n, dtype=np.int64)
        batch = self._batch or self._compiled()[1]
        pool = self.pool
        active = pool.as_active
        have_times = len(times) > 0
        done = 0
        while done < n:
            # Each decision adds at most one entry and one set member: run in
            # chunks that fit the free rows, growing the arrays in between.
            left = n - done
            if self._room() < min(left, max(64, self.state[3].shape[0] // 4)):
                self.reserve(min(left, max(64, self.state[3].shape[0])))
            chunk = min(left, self._room())
            end = done + chunk
            batch(pool.table, pool.order, self.state, keys[done:end],
                  times[done:end] if have_times else times, t, active, out[done:end])
            done = end
        return out

    # -- inspection --------------------------------------------------------------------------------
    @property
    def cache_size(self) -> int:
        """Number of cached destination addresses."""
        return int(self.state[0][COUNT])

    @property
    def entry_counter(self) -> int:
        """The kernel's ``entries`` counter, which drives the size-pressure sweep.

        For lblc it counts every replacement too (see the module docstring),
        so it can exceed :attr:`cache_size`.
        """
        return int(self.state[0][ENTRIES])

    @property
    def gc_counter(self) -> int:
        """The GC tick counter (a full expiration check runs when it is a multiple of 30)."""
        return int(self.state[0][COUNTER])

    @property
    def rover(self) -> int:
        """The bucket where the last size-pressure sweep stopped."""
        return int(self.state[0][ROVER])

    @property
    def next_tick(self) -> float:
        """Time of the next GC tick."""
        return float(self.state[1][NEXT_T])

    def _rows(self):
        buckets, ent = self.state[2], self.state[3]
        for b in range(TAB_SIZE):
            i = int(buckets[b])
            while i >= 0:
                yield i
                i = int(ent[i, NEXT])

    def cache_entries(self) -> dict:
        """Cached destination address -> entry, in bucket order (head of each bucket first).

        Entries are :class:`LblcEntry` (lblc) or :class:`LblcrEntry` (lblcr).
        Expired entries stay until a GC tick deletes them; call :meth:`advance`
        first to see the cache as it is at a later time.
        """
        ent, entf, elem = self.state[3], self.state[4], self.state[5]
        out = {}
        for i in self._rows():
            addr = self._address(int(ent[i, KEY]))
            if self._replicated:
                members = []
                e = int(ent[i, DEST])
                while e >= 0:
                    members.append(int(elem[e, E_DEST]))
                    e = int(elem[e, E_NEXT])
                out[addr] = LblcrEntry(tuple(members), float(entf[i, LASTUSE]), float(entf[i, LASTMOD]))
            else:
                out[addr] = LblcEntry(int(ent[i, DEST]), float(entf[i, LASTUSE]))
        return out

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        return f"{type(self).__name__}(weights={w}, cached={self.cache_size}, clock={self.clock})"

"""The :class:`ClientIPAffinity` wrapper: validation, keys, growth, inspection.

Growth, the clock rule and the chunked ``pick_many`` driver are the keyed
cache's (:mod:`.._keyed_cache`, shared with lblc / lblcr); this class supplies
its hooks (the tables to grow, the room left, one compiled call per chunk)
and keeps the single-pick path, which runs the layer's kernels one by one.
"""

from __future__ import annotations

import copy as _copy
import numbers
from typing import Any, NamedTuple

import numpy as np

from ... import _validate
from ..._table import EV_COUNTERS, EV_RESIZE, F_AVAILABLE, FLAGS, SLOT, WEIGHT
from ..._table import account as _account
from ...errors import InvalidArgument, InvalidArgumentType, NoBackendAvailable, short
from .._keyed_cache import MAX_TIME, KeyedCache
from ..base import Scheduler
from . import _kernels as K
from ._keys import ClientKeys
from ._store import (
    BACKEND,
    BIG,
    BITS,
    CAPACITY,
    CLIENT_NEXT,
    CLIENT_SLOTS,
    CLOCK,
    CONTROLLED,
    ENTRY_ROWS,
    EXPIRE_QUIESCENT,
    FIRST,
    HEAD,
    IPTABLES,
    IPVS,
    KEY,
    LIST_WIDTH,
    LISTS,
    META,
    MODE,
    N_AFF,
    N_CLIENTS,
    N_META,
    N_TIMING,
    NFTABLES,
    RANK,
    ROW_TIMES,
    ROW_WIDTH,
    ROWS,
    ROWS_USED,
    SLOT_WIDTH,
    STAMP,
    TAIL,
    TIMEOUT,
    TIMING,
    V6_BASE,
    V6FOLD,
    copy_tables,
    rehash,
)

# The Kernel objects themselves: compiling a kernel of ``_kernels`` rebinds that module's
# globals to Numba dispatchers, which have no ``direct``.
_persist_check = K.persist_check
_persist_record = K.persist_record

MODES = ("iptables", "nftables", "ipvs")
_MODE_IDS = {"iptables": IPTABLES, "nftables": NFTABLES, "ipvs": IPVS}
#: xt_recent ``ip_list_tot`` (module default) and the size nft gives an unsized dynamic set.
DEFAULT_CAPACITY = {"iptables": 100, "nftables": 65535, "ipvs": None}
MIN_TIMEOUT, MAX_TIMEOUT, DEFAULT_TIMEOUT = 1, 86400, 10800


def _new_lists(capacity: int) -> np.ndarray:
    """Return empty per-backend lists (``aff[LISTS]``) for ``capacity`` backend ids."""
    lists = np.zeros((capacity, LIST_WIDTH), dtype=np.int64)
    lists[:, HEAD] = lists[:, TAIL] = -1  # empty: no head, no tail
    return lists


class Pin(NamedTuple):
    """Where a client is pinned: the backend, until when, and (ipvs) its live connections."""

    backend: int
    expires: float
    connections: int


class ClientIPAffinity(ClientKeys, KeyedCache, Scheduler):
    """Kubernetes ``sessionAffinity: ClientIP`` around any scheduler, as kube-proxy's data planes do it.

    Parameters
    ----------
    inner : Scheduler
        The scheduler used when no affinity applies (kube-proxy: iptables /
        nftables random choice, IPVS ``rr``). The wrapper shares its pool
        and takes over its pool subscription; use the wrapper from then on.
    timeout : int
        ``timeoutSeconds``: 1..86400, default 10800.
    mode : {"iptables", "nftables", "ipvs"}
        xt_recent lists, nft sets with timeouts, or IPVS persistence templates.
    expire_quiescent_template : bool, optional
        ipvs only: a template on a weight-0 backend is invalidated at its
        next use (kube-proxy sets the sysctl; default True).
    capacity : int, optional
        Clients per endpoint list: iptables ``ip_list_tot`` (default 100, the
        oldest entry is evicted), nftables set size (default 65535, a full set
        takes no new client). Not for ipvs.

    Examples
    --------
    >>> from lbalgo import RR, ClientIPAffinity
    >>> aff = ClientIPAffinity(RR(weights=[1, 1, 1]), timeout=60, mode="ipvs")
    >>> [aff.pick(key=c, now=t) for c, t in [("10.0.0.1", 0.0), ("10.0.0.2", 1.0), ("10.0.0.1", 2.0)]]
    [0, 1, 0]
    """

    name = "clientip"
    summary = "kube-proxy sessionAffinity: ClientIP (xt_recent / nft sets / IPVS persistence)"
    source = "kube-proxy pkg/proxy/{iptables,nftables,ipvs}; Linux xt_recent.c, nft_dynset.c, ip_vs_core.c"
    keyed = True
    destination_keyed = False  # keyed by the client address, whatever the inner scheduler hashes

    def __init__(self, inner: Scheduler, *, timeout: int = DEFAULT_TIMEOUT, mode: str = "iptables",
                 expire_quiescent_template: bool | None = None, capacity: int | None = None) -> None:
        if not isinstance(inner, Scheduler):
            raise InvalidArgumentType(f"inner must be an lbalgo Scheduler, got {type(inner).__name__}")
        if isinstance(inner, ClientIPAffinity):
            raise InvalidArgumentType("inner is already a ClientIPAffinity")
        if mode not in MODES:
            raise InvalidArgument(f"mode must be one of {MODES}, got {short(mode)}")
        if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, numbers.Integral):
            raise InvalidArgumentType(f"timeout must be an integer number of seconds, got {short(timeout)}")
        if not MIN_TIMEOUT <= int(timeout) <= MAX_TIMEOUT:
            raise InvalidArgument(f"timeout must be in {MIN_TIMEOUT}..{MAX_TIMEOUT} seconds "
                             f"(sessionAffinityConfig.clientIP.timeoutSeconds), got {int(timeout)}")
        if mode != "ipvs" and expire_quiescent_template is not None:
            raise InvalidArgument("expire_quiescent_template is an IPVS sysctl: only for mode='ipvs'")
        eqt = True if expire_quiescent_template is None else expire_quiescent_template
        if not isinstance(eqt, (bool, np.bool_)):
            raise InvalidArgumentType(f"expire_quiescent_template must be True or False, got {short(eqt)}")
        if mode == "ipvs" and capacity is not None:
            raise InvalidArgument("capacity applies to iptables lists and nftables sets, not to IPVS "
                                  "templates")
        cap = DEFAULT_CAPACITY[mode] if capacity is None else _validate.count(capacity, "capacity")
        if cap is not None and not 1 <= cap <= 2**31 - 1:
            raise InvalidArgument(f"capacity must be in 1..{2**31 - 1}, got {cap}")
        self.inner = inner
        self.mode = mode
        self.timeout = int(timeout)
        self.expire_quiescent_template = bool(eqt) if mode == "ipvs" else None
        self.capacity = cap
        self.seed = inner.seed
        self.pool = inner.pool
        self.randomized = inner.randomized
        self._schedule = inner._schedule
        self._changed = inner._changed
        self._init_identity_keys()
        self._aff = self._new_aff(self.pool.capacity, n_rows=256, bits=9)
        self._budget = 0  # picks that surely fit without growing the tables
        self._new_one_arrays()
        try:  # the wrapper forwards every event to the inner scheduler
            self.pool.unsubscribe(inner._pool_changed)
        except ValueError:
            pass
        self.pool.subscribe(self._pool_changed, counters=inner.watches_counters)
        K.affinity_changed(self.pool.table, self._aff)

    # -- state -------------------------------------------------------------------------------
    def _new_aff(self, capacity: int, n_rows: int, bits: int) -> tuple:
        """Return empty affinity tables (the tuple ``aff`` of :mod:`._store`)."""
        meta = np.zeros(N_META, dtype=np.int64)
        meta[MODE] = _MODE_IDS[self.mode]
        meta[CAPACITY] = self.capacity or 0
        meta[EXPIRE_QUIESCENT] = 1 if self.expire_quiescent_template else 0
        meta[BITS] = bits
        timing = np.zeros(N_TIMING, dtype=np.float64)
        timing[CLOCK] = -np.inf
        timing[TIMEOUT] = float(self.timeout)
        rows = np.zeros((n_rows, ROW_WIDTH), dtype=np.int64)
        ENTRY_ROWS.fill(meta, rows)
        aff: list[Any] = [None] * N_AFF
        aff[META], aff[TIMING] = meta, timing
        aff[CLIENT_SLOTS] = np.full((1 << bits, SLOT_WIDTH), -1, np.int64)
        # ROW_TIMES: the same rows read as float64 (columns STAMP, ROW_TIMEOUT): one cache line per entry
        aff[ROWS], aff[ROW_TIMES] = rows, rows.view(np.float64)
        aff[LISTS], aff[RANK] = _new_lists(capacity), np.full(capacity, BIG, np.int64)
        aff[V6FOLD] = np.zeros(16, dtype=np.int64)
        return tuple(aff)

    def _new_one_arrays(self) -> None:
        super()._new_one_arrays()
        self._inner_key = np.zeros(1, dtype=np.int64)  # persist_schedule's scratch: the inner scheduler's key

    @property
    def state(self) -> np.ndarray:
        """The inner scheduler's state (the affinity tables are :attr:`persistence`)."""
        return self.inner.state

    @property
    def fstate(self) -> np.ndarray:
        """The inner scheduler's float state."""
        return self.inner.fstate

    @property
    def watches_counters(self) -> bool:  # type: ignore[override]
        """Whether the inner scheduler indexes the counters."""
        return self.inner.watches_counters

    @property
    def persistence(self) -> tuple:
        """The affinity tables the persistence layer reads (see ``_store``)."""
        return self._aff

    def _pool_changed(self, event: int, where: int) -> None:
        if event == EV_RESIZE:  # the inner resizes its own state; the per-id arrays grow here
            self.inner._pool_changed(event, where)
            aff = list(self._aff)
            cap = self.pool.capacity
            lists = _new_lists(cap)
            lists[: len(aff[LISTS])] = aff[LISTS]
            rank = np.full(cap, BIG, np.int64)
            rank[: len(aff[RANK])] = aff[RANK]
            aff[LISTS], aff[RANK] = lists, rank
            self._aff = tuple(aff)
            return
        self.inner._pool_changed(event, where)
        if event != EV_COUNTERS:
            K.affinity_changed(self.pool.table, self._aff)

    def detached(self) -> ClientIPAffinity:
        """Return an independent copy (inner scheduler, pool and affinity tables) for what-if decisions."""
        clone = _copy.copy(self)
        clone.inner = self.inner.detached()
        clone.pool = clone.inner.pool
        clone.pool.unsubscribe(clone.inner._pool_changed)
        clone.pool.subscribe(clone._pool_changed, counters=clone.inner.watches_counters)
        clone._new_one_arrays()
        clone._detach_extra(self)
        return clone

    def _detach_extra(self, original: Scheduler) -> None:
        super()._detach_extra(original)
        self._aff = copy_tables(self._aff)

    # -- the keyed cache's hooks ----------------------------------------------------------------
    _chunk_rows = 1024
    _pick_rows = 64  # pick() grows the tables when fewer decisions than this fit, by this many at least

    @property
    def _timing(self) -> np.ndarray:
        return self._aff[TIMING]

    def _grow(self, picks: int) -> None:
        # Each decision adds at most one client and one entry, and may make the inner scheduler add rows.
        self.inner.reserve(picks)
        aff = list(self._aff)
        meta, rows = aff[META], aff[ROWS]
        n_rows = rows.shape[0]
        new = ENTRY_ROWS.grown_rows(meta, n_rows, picks)
        if new:
            grown = np.zeros((new, ROW_WIDTH), dtype=np.int64)
            grown[:n_rows] = rows
            ENTRY_ROWS.push_new(meta, grown, n_rows)
            aff[ROWS], aff[ROW_TIMES] = grown, grown.view(np.float64)
        need = int(meta[N_CLIENTS]) + picks
        slots = aff[CLIENT_SLOTS]
        if 2 * need > slots.shape[0]:  # open addressing: kept at most half full
            bits = int(meta[BITS])
            while 2 * need > (1 << bits):
                bits += 1
            new_slots = np.full((1 << bits, SLOT_WIDTH), -1, np.int64)
            rehash(slots, new_slots, bits)
            aff[CLIENT_SLOTS] = new_slots
            meta[BITS] = bits
        self._aff = tuple(aff)
        self._budget = 0

    def _room(self) -> int:
        meta, slots, rows = self._aff[META], self._aff[CLIENT_SLOTS], self._aff[ROWS]
        return min(ENTRY_ROWS.room(meta, rows.shape[0]), slots.shape[0] // 2 - int(meta[N_CLIENTS]))

    def _table_rows(self) -> int:
        return self._aff[ROWS].shape[0]

    def _chunk_floor(self, rows: int) -> int:
        # A fixed floor, not the locality cache's quarter of the table: this layer has always
        # grown this way, and growing at other times would change the table sizes that
        # ``persistence`` shows and the order of pinned().
        return self._chunk_rows

    def _run_chunk(self, keys: np.ndarray, times: np.ndarray, out: np.ndarray, first: int, last: int) -> None:
        pool, inner = self.pool, self.inner
        inner.reserve(last - first)  # may replace the inner state arrays: read them after
        K.persist_schedule.compiled(inner._schedule.compiled, inner._changed.compiled, pool.table,
                                    inner.state, inner.fstate, self._aff, keys, times, out, first, last,
                                    pool.count_mode, inner.watches_counters, self._inner_key)

    def _time_error(self, t: float) -> str:
        if not -MAX_TIME <= t <= MAX_TIME:
            return f"now must be a finite time within +-{MAX_TIME:g} s, got {t}"
        return (f"now = {t} goes back in time: the affinity state is at {self.clock} "
                "(affinity timers need non-decreasing times)")

    # -- scheduling -------------------------------------------------------------------------------
    def _label(self) -> str:
        return f"{self.inner.name}+{self.name}"

    def pick(self, key: Any = None, now: float = 0.0) -> int:
        """Schedule one new connection from client ``key`` at time ``now``; return the backend id.

        Raises
        ------
        NoBackendAvailable
            When no affinity applies and the inner scheduler finds no backend.
        ValueError
            When ``now`` is earlier than a previous call's.
        """
        t = now if type(now) is float and self._aff[TIMING][CLOCK] <= now <= MAX_TIME else self._time(now)
        k = key if type(key) is int and 0 <= key < V6_BASE else self._key(key)
        # Counting down a budget of picks that surely fit costs less than _room() on every pick.
        self._budget -= 1
        if self._budget < 0:
            if self._room() < self._pick_rows:
                self.reserve(max(self._pick_rows, self._table_rows()))
            self._budget = self._room() - 1
        # The persistence layer, step by step from Python (one compiled call each).
        table, aff, inner = self.pool.table, self._aff, self.inner
        hit = _persist_check.direct(table, aff, k, t)
        if hit >= 0:
            backend = int(_account.direct(table, hit, self.pool.count_mode))
            if inner.watches_counters:
                inner._changed.entry(table, inner.state, inner.fstate, EV_COUNTERS, backend)
        else:
            inner_key = k if k < V6_BASE else int(aff[V6FOLD][k - V6_BASE])
            try:
                backend = inner._schedule_one(inner_key, t)
            except NoBackendAvailable as exc:
                raise NoBackendAvailable(str(exc).replace(inner.name, self._label(), 1)) from None
        _persist_record.direct(table, aff, k, backend, hit, t)
        if hit < 0 and self.mode == "ipvs" and inner.watches_counters:
            inner._changed.entry(table, inner.state, inner.fstate, EV_COUNTERS, backend)
        return backend

    def pick_many(self, keys: Any, now: Any = None) -> np.ndarray:
        """Schedule one new connection per client, in order, in compiled loops.

        Parameters
        ----------
        keys : array of client addresses
            1-D integers (IPv4; larger values are IPv6), ``(n, 4)`` IPv6
            words, or a sequence of address strings / ``ipaddress`` objects.
        now : float or array of float, optional
            One time for all, or one non-decreasing time per connection
            (default: the clock, or 0.0 before the first call).

        Returns
        -------
        numpy.ndarray of int64
            The backend id per connection, ``-1`` where none was available.
        """
        if isinstance(keys, numbers.Integral):
            raise InvalidArgumentType("ClientIPAffinity.pick_many() needs an array of client addresses, not "
                                      "a count")
        clock = self._aff[TIMING][CLOCK]
        if now is None:
            times, t = np.zeros(0, dtype=np.float64), (0.0 if clock == -np.inf else float(clock))
        elif np.ndim(now) == 0:
            times, t = np.zeros(0, dtype=np.float64), self._time(now)
        else:
            times = np.ascontiguousarray(now, dtype=np.float64)
            if times.ndim != 1 or not np.isfinite(times).all():
                raise InvalidArgument("now must be one finite time or a 1-D array of finite times")
            self._check_times(times)
            t = 0.0
        packed = self._keys(keys)
        n = len(packed)
        if len(times) and len(times) != n:
            raise InvalidArgument(f"now has {len(times)} times but there are {n} keys")
        out = np.empty(n, dtype=np.int64)
        if not len(times):
            times = np.array([t], dtype=np.float64)
        self._run(packed, times, out)
        self._budget = 0  # the batch used rows the budget counted on
        return out

    def release(self, backend: int, *, key: Any = None, now: Any = None, active: bool | None = None) -> None:
        """One connection on ``backend`` ended (see :meth:`Pool.release`).

        In ipvs mode give the client (``key``) and the time (``now``, default
        the clock): the client's template counts its live connections, and a
        template whose timer fires while it still controls connections lives
        on in 60 s steps. A release without ``key`` cannot be attributed: the
        template then never sees that connection end.
        """
        b = self.pool.check_id(backend, listed=False)
        t = self.clock if now is None else self._time(now)
        k = None if key is None else self._key(key)
        self.pool.release(b, active=active)  # checks there is such a connection
        if k is not None and t > -np.inf:
            K.release_one(self._aff, k, b, t)

    # -- inspection ---------------------------------------------------------------------------------
    def pinned(self, now: Any = None) -> dict:
        """Client address -> :class:`Pin` for every client a new connection at ``now`` would stick to.

        iptables: the first endpoint (in list order) whose list holds the
        client with ``now - timeout <= last set`` (``expires`` = last set +
        timeout, inclusive). nftables: the first set holding the client with
        ``now < expires``. ipvs: the template if its timer (as of ``now``:
        fired timers of templates with live connections re-armed) lies after
        ``now`` and its backend passes ``ip_vs_check_template``;
        ``connections`` = the connections it controls. Nothing is changed.
        """
        t = self.clock if now is None else self._time(now)
        slots, rows, row_times, rank = (self._aff[CLIENT_SLOTS], self._aff[ROWS], self._aff[ROW_TIMES],
                                        self._aff[RANK])
        table = self.pool.table
        T = float(self._aff[TIMING][TIMEOUT])
        out = {}
        for s in np.flatnonzero(slots[:, KEY] >= 0).tolist():
            best = None
            r = int(slots[s, FIRST])
            while r >= 0:
                b, stamp = int(rows[r, BACKEND]), float(row_times[r, STAMP])
                if self.mode == "iptables":
                    if not t - T > stamp and (best is None or rank[b] < rank[best.backend]):
                        best = Pin(b, stamp + T, 0)
                elif self.mode == "nftables":
                    if t < stamp and (best is None or rank[b] < rank[best.backend]):
                        best = Pin(b, stamp, 0)
                else:
                    nctl = int(rows[r, CONTROLLED])
                    if stamp <= t and nctl > 0:
                        stamp = float(K.sticky_expiry(stamp, t))
                    sb = table[SLOT, b]
                    usable = (table[FLAGS, sb] & F_AVAILABLE) and not (self.expire_quiescent_template
                                                                       and table[WEIGHT, sb] == 0)
                    if stamp > t and usable:
                        best = Pin(b, stamp, nctl)
                r = int(rows[r, CLIENT_NEXT])
            if best is not None:
                out[self._address(int(slots[s, KEY]))] = best
        return out

    @property
    def clients(self) -> int:
        """Distinct clients ever seen (the client table never shrinks)."""
        return int(self._aff[META][N_CLIENTS])

    @property
    def entries(self) -> int:
        """Entries held: list entries (iptables), set elements (nftables) or templates (ipvs)."""
        return int(self._aff[META][ROWS_USED])

    @property
    def persist_conns(self) -> np.ndarray:
        """Persistence templates per backend id (ipvs; read-only)."""
        return self.pool.persist_conns

    def __repr__(self) -> str:
        extra = f", expire_quiescent_template={self.expire_quiescent_template}" if self.mode == "ipvs" else \
            f", capacity={self.capacity}"
        return f"ClientIPAffinity({self.inner!r}, timeout={self.timeout}, mode={self.mode!r}{extra})"

"""The nginx 1.22 peer model shared by every ``upstream`` balancer (``ngx_http_upstream_round_robin.c``).

A backend is an nginx *peer* (one address of a ``server`` line), in config
order. lbalgo maps the peer parameters onto the pool::

    weight=N          the pool weight (nginx: 1..)
    down              weight 0; the peer keeps its last weight in total_weight
                      (ip_hash, hash) and on the ketama ring
    backup            backup=[...]: tried only when no primary peer is usable
                      (rr and least_conn; nginx refuses it for the hash balancers)
    max_conns=N       the pool's thresholds with upper = lower = N: usable
                      while conns < N, conns = active + inactive connections
    max_fails, fail_timeout   per-peer failure jail (below)

A peer is *usable* (``ngx_http_upstream_get_peer`` and every balancer) when
it is not down, not jailed and below ``max_conns``::

    jailed = max_fails > 0 and fails >= max_fails and now - checked <= fail_timeout

with ``now`` in whole seconds (``ngx_time()``: lbalgo takes ``floor(now)``).

Failures (``ngx_http_upstream_free_round_robin_peer``) come from
``release(b, failed=True, now=t)``::

    fails += 1; accessed = checked = t
    if max_fails: effective_weight -= weight // max_fails (not below 0)
    (a successful release: if accessed < checked: fails = 0)

and an upstream with exactly one primary peer and no backup (``single``)
records no failure at all. ``checked`` is also set to ``now`` when a peer is
chosen more than ``fail_timeout`` seconds after the last check.

Smooth weighted round robin (``ngx_http_upstream_get_peer``), one pass over
a peer list (primary, or backup)::

    best = none; total = 0
    for each usable peer p, in config order:
        p.current_weight += p.effective_weight; total += p.effective_weight
        if p.effective_weight < p.weight: p.effective_weight += 1
        if best is none or p.current_weight > best.current_weight: best = p
    if best: best.current_weight -= total

nginx builds this state when it loads its configuration, and open-source
nginx cannot change a peer without a reload, which starts over. lbalgo does
the same: every pool edit (add, remove, weight, ``down``, ``max_conns``)
is a reload: current_weight = 0, effective_weight = weight, fails = 0.

State layout (int64): a header, per-id configuration rows (what a reload
keeps), per-slot runtime rows (what it resets), then the balancer's own
region (the ketama ring, the random ranges).
"""

from __future__ import annotations

import numbers
from collections import namedtuple
from typing import Any, ClassVar, Sequence

import numpy as np

from ... import _validate
from ..._jit import kernel
from ..._table import (
    ACTIVE,
    BACKEND,
    EV_RESIZE,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    LAST_WEIGHT,
    LISTED,
    SLOT,
    U_THRESHOLD,
    WEIGHT,
)
from ..._table import HEADER as T_HEADER
from ..base import Scheduler

# header fields
CAP = 0  # width of every per-id and per-slot row
NPRIM = 1  # primary peers (listed, not backup; down ones included)
NBACK = 2  # backup peers
TOTAL_W = 3  # sum of the primary peers' config weights (down included): ip_hash, hash, random
EXTRA_AT = 4  # where the balancer's own region starts
EXTRA_LEN = 5  # and its length
CLEAN = 6  # 1: no backup, no max_conns and no failure since the reload (see swrr_clean)
LIVE_TOTAL = 7  # sum of the weights of the primary peers that are not down
DIRECT = 9  # 1: total_weight <= BUCKETS * cap, and bucket w is the owner of residue w
ALGO = 10  # first header field a balancer may use for itself (up to HEADER)
HEADER = 64
# fstate fields
INV_TOTAL = 0  # 1 / total_weight, for fast_mod
N_FSTATE = 2

# per-id configuration rows
ID_BACKUP, ID_MAX_FAILS, ID_FAIL_TIMEOUT, ID_SERVER_REG, ID_SERVER_GROUP = range(5)
N_ID_ROWS = 5
# per-slot runtime rows (S_CUM: configured weights of the primary peers before this one; S_BUCKETS:
# BUCKETS rows, the owner of residue floor(k * total / (BUCKETS * cap)) for bucket k, see walk)
(S_CW, S_EW, S_FAILS, S_ACCESSED, S_CHECKED, S_BACKUP, S_MAX_FAILS, S_FAIL_TIMEOUT, S_CUM,
 S_BUCKETS) = range(10)
BUCKETS = 4
N_SLOT_ROWS = 9 + BUCKETS

#: The rows a decision reads, as views taken once per batch (weight and flags are the table's).
Peers = namedtuple("Peers", "weight flags cw ew fails checked backup max_fails fail_timeout cum buckets")


@kernel(inline="always")
def id_row(state, row):
    """Return the start of per-id configuration row ``row``."""
    return HEADER + row * state[CAP]


@kernel(inline="always")
def slot_row(state, row):
    """Return the start of per-slot runtime row ``row``."""
    return HEADER + (N_ID_ROWS + row) * state[CAP]


@kernel(inline="always")
def srow(state, row, rows):
    """Return a view of ``rows`` per-slot runtime rows from ``row`` on."""
    start = slot_row(state, row)
    return state[start: start + rows * state[CAP]]


@kernel(inline="always")
def peer_rows(table, state):
    """:data:`Peers` views of the table and the state."""
    return Peers(table[WEIGHT], table[FLAGS], srow(state, S_CW, 1), srow(state, S_EW, 1),
                 srow(state, S_FAILS, 1), srow(state, S_CHECKED, 1), srow(state, S_BACKUP, 1),
                 srow(state, S_MAX_FAILS, 1), srow(state, S_FAIL_TIMEOUT, 1), srow(state, S_CUM, 1),
                 srow(state, S_BUCKETS, BUCKETS))


@kernel(inline="always")
def seconds(t):
    """``ngx_time()`` for a time in seconds: the whole seconds."""
    return np.int64(np.floor(t))


@kernel(inline="always")
def now_at(times, i, now0):
    """``seconds(times[i])``, or ``now0`` (computed once) when one time applies to the whole batch."""
    if times.shape[0] > 1:
        return seconds(times[i])
    return now0


@kernel(inline="always")
def usable(p, s, now):
    """Whether the peer at slot ``s`` is usable: not down, not jailed, below max_conns."""
    if p.weight[s] == 0 or p.flags[s] & F_OVERLOAD:
        return False
    f = p.fails[s]
    if f and p.max_fails[s] and f >= p.max_fails[s] and now - p.checked[s] <= p.fail_timeout[s]:
        return False
    return True


@kernel(inline="always")
def touch(p, s, now):
    """Mark peer ``s`` chosen: ``checked = now`` once ``fail_timeout`` has passed since the last check."""
    if now - p.checked[s] > p.fail_timeout[s]:
        p.checked[s] = now


@kernel(inline="always")
def swrr_pass(p, n, group, now):
    """One smooth-WRR pass over the usable peers of ``group`` (0 primary, 1 backup); the slot or -1."""
    best = -1
    best_cw = 0
    total = 0
    for s in range(n):
        if p.backup[s] != group or not usable(p, s, now):
            continue
        e = p.ew[s]
        c = p.cw[s] + e
        p.cw[s] = c
        total += e
        if e < p.weight[s]:
            p.ew[s] = e + 1
        # Strict: a later peer replaces the best only with a larger current weight.
        if best < 0 or c > best_cw:
            best = s
            best_cw = c
    if best >= 0:
        p.cw[best] = best_cw - total
        touch(p, best, now)
    return best


@kernel(inline="always")
def swrr_clean(p, n, total, now):
    """:func:`swrr_pass` over the primary peers when no peer can be skipped but a ``down`` one.

    With no backup, no max_conns and no failure since the reload, every peer
    that is not down is usable and its effective weight is its weight, so a
    pass adds each weight to its current weight. A down peer keeps current
    weight 0 while the live ones sum to 0 after every pass, so it can never
    beat the best live peer (whose current weight is > 0 after the adds):
    adding its weight (0) to it changes nothing. ``total`` is the live total.
    """
    best = 0
    best_cw = p.cw[0] + p.weight[0]
    p.cw[0] = best_cw
    for s in range(1, n):
        c = p.cw[s] + p.weight[s]
        p.cw[s] = c
        if c > best_cw:
            best = s
            best_cw = c
    p.cw[best] = best_cw - total
    touch(p, best, now)
    return best


@kernel(inline="always")
def single_peer(p, n):
    """``peers->single``: the one primary peer if it is not down and below max_conns, else -1.

    nginx skips the failure jail for a single peer.
    """
    for s in range(n):
        if p.backup[s] == 0:
            if p.weight[s] == 0 or p.flags[s] & F_OVERLOAD:
                return -1
            return s
    return -1


@kernel(inline="always")
def is_single(state):
    """Exactly one primary peer and no backup peer (``peers->single``)."""
    return state[NPRIM] == 1 and state[NBACK] == 0


@kernel(inline="always")
def rr_peer(p, state, n, now):
    """``ngx_http_upstream_get_round_robin_peer`` for a fresh request: the slot or -1."""
    if is_single(state):
        return single_peer(p, n)
    if state[CLEAN]:
        if state[LIVE_TOTAL] == 0:
            return -1
        return swrr_clean(p, n, state[LIVE_TOTAL], now)
    s = swrr_pass(p, n, 0, now)
    if s < 0 and state[NBACK] > 0:
        s = swrr_pass(p, n, 1, now)
    return s


@kernel(inline="always")
def search(cum, nprim, w):
    """Return the last peer whose prefix sum is <= ``w``, by binary search (``peek_random_peer``'s loop)."""
    lo = 0
    hi = nprim
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if w < cum[mid]:
            hi = mid
        else:
            lo = mid
    return lo


@kernel(inline="always")
def walk(p, nprim, w, total, inv, direct):
    """Return the primary peer whose block of configured-weight residues holds ``w`` (0 <= w < total).

    nginx walks the list subtracting weights; with the prefix sums in ``cum``
    that is the last peer whose prefix sum is <= w (hash balancers have no
    backup peers, so primaries are slots 0 .. nprim-1). Bucket
    ``q = floor(w * B / total)`` (B = len(buckets)) holds the owner of
    residue ``floor(q * total / B) <= w``: start there and step forward.
    With ``direct`` (total <= B) bucket w holds the owner of w itself.
    """
    if direct:
        return p.buckets[w]
    nb = p.buckets.shape[0]
    x = w * nb
    q = int(x * inv)
    r = x - q * total  # exact floor division by total (see fast_mod)
    if r < 0:
        q -= 1
    elif r >= total:
        q += 1
    s = p.buckets[q]
    while s + 1 < nprim and p.cum[s + 1] <= w:
        s += 1
    return s


@kernel(inline="always")
def conns(table, s):
    """``peer->conns``: the requests the peer is serving (active + inactive connections)."""
    return table[ACTIVE, s] + table[INACTIVE, s]


@kernel
def reload(table, state, fstate):
    """Apply a configuration (re)load: rebuild the per-slot rows from the table and per-id rows."""
    cap = state[CAP]
    n = table[T_HEADER, LISTED]
    nprim = 0
    nback = 0
    total = 0
    live = 0
    limits = 0
    for s in range(cap):
        for r in range(N_SLOT_ROWS):
            state[slot_row(state, r) + s] = 0
    for s in range(n):
        b = table[BACKEND, s]
        backup = state[id_row(state, ID_BACKUP) + b]
        state[slot_row(state, S_EW) + s] = table[WEIGHT, s]
        state[slot_row(state, S_BACKUP) + s] = backup
        state[slot_row(state, S_MAX_FAILS) + s] = state[id_row(state, ID_MAX_FAILS) + b]
        state[slot_row(state, S_FAIL_TIMEOUT) + s] = state[id_row(state, ID_FAIL_TIMEOUT) + b]
        if table[U_THRESHOLD, s] != 0 or table[FLAGS, s] & F_OVERLOAD:
            limits += 1
        if backup:
            nback += 1
        else:
            state[slot_row(state, S_CUM) + nprim] = total
            nprim += 1
            total += table[LAST_WEIGHT, s]
            live += table[WEIGHT, s]
    state[NPRIM] = nprim
    state[NBACK] = nback
    state[TOTAL_W] = total
    state[LIVE_TOTAL] = live
    state[CLEAN] = 1 if nback == 0 and limits == 0 else 0
    fstate[INV_TOTAL] = 1.0 / total if total else 0.0
    state[DIRECT] = 0
    if total:
        cum = state[slot_row(state, S_CUM): slot_row(state, S_CUM) + cap]
        nb = BUCKETS * cap
        if total <= nb:
            state[DIRECT] = 1
            for k in range(total):
                state[slot_row(state, S_BUCKETS) + k] = search(cum, nprim, k)
        else:
            for k in range(nb):
                state[slot_row(state, S_BUCKETS) + k] = search(cum, nprim, (k * total) // nb)


@kernel
def free_peer(table, state, backend, failed, now):
    """``ngx_http_upstream_free_round_robin_peer`` after ``pool.release``: failure bookkeeping."""
    s = table[SLOT, backend]
    if s >= table[T_HEADER, LISTED] or is_single(state):
        return
    fails = slot_row(state, S_FAILS) + s
    accessed = slot_row(state, S_ACCESSED) + s
    checked = slot_row(state, S_CHECKED) + s
    if failed:
        state[CLEAN] = 0
        state[fails] += 1
        state[accessed] = now
        state[checked] = now
        max_fails = state[slot_row(state, S_MAX_FAILS) + s]
        if max_fails:
            ew = slot_row(state, S_EW) + s
            state[ew] -= table[WEIGHT, s] // max_fails
            if state[ew] < 0:
                state[ew] = 0
    elif state[accessed] < state[checked]:
        state[fails] = 0


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _per_backend(value: Any, n: int, what: str, check: Any) -> list[int]:
    """Return a scalar or one value per backend, validated by ``check(value, name)``."""
    if _is_list(value):
        values = list(value)
        if len(values) != n:
            raise ValueError(f"{what} has {len(values)} entries but there are {n} backends")
        return [check(v, f"{what}[{i}]") for i, v in enumerate(values)]
    return [check(value, what)] * n


def _flag(value: Any, what: str) -> int:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return int(value)


def _seconds(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be a whole number of seconds, got {value!r}")
    if not 0 <= int(value) <= 2**31 - 1:
        raise ValueError(f"{what} must be in 0..{2**31 - 1} seconds, got {int(value)}")
    return int(value)


def _count(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if not 0 <= int(value) <= 255:
        raise ValueError(f"{what} must be in 0..255, got {int(value)}")
    return int(value)


def _max_conns(value: Any, what: str) -> int:
    return _validate.threshold(value, what)


class NginxScheduler(Scheduler):
    """Base of the nginx balancers: peers with ``down``, ``backup``, ``max_fails``, ``fail_timeout``, limits.

    Parameters
    ----------
    weights : sequence of int
        Peer weights in config order; 0 marks a peer ``down`` (see ``down``).
    down : sequence of bool, optional
        Peers marked ``down``: they take no request but keep their weight in
        ``total_weight`` (``ip_hash``, ``hash``) and on the ketama ring.
    backup : sequence of bool, optional
        Backup peers (``rr`` and ``least_conn`` only, as in nginx).
    max_fails : int or sequence of int
        Failures (``release(..., failed=True)``) that jail a peer (default 1; 0 = never).
    fail_timeout : int or sequence of int
        Seconds a jail lasts, and the window failures are counted in (default 10).
    max_conns : int or sequence of int, optional
        Concurrent requests a peer takes (0 = no limit); sets the pool's thresholds.
    **options
        Passed to :class:`~lbalgo.schedulers.base.Scheduler` (``pool``, ``seed``, ...).
    """

    family = "nginx 1.22"
    insertion = "tail"
    #: Whether nginx accepts ``backup`` peers with this balancer.
    accepts_backup: ClassVar[bool] = False

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *,
                 down: Sequence[bool] | None = None, backup: Sequence[bool] | None = None,
                 max_fails: int | Sequence[int] = 1, fail_timeout: int | Sequence[int] = 10,
                 max_conns: int | Sequence[int] | None = None, **options: Any) -> None:
        pool = options.get("pool")
        n = pool.n_ids if pool is not None else len(_validate.weights([] if weights is None else weights))
        if backup is not None and not self.accepts_backup:
            raise ValueError(f"{self.name}: nginx does not accept backup servers with this balancer")
        self._backup = _per_backend(False if backup is None else backup, n, "backup", _flag)
        self._down = _per_backend(False if down is None else down, n, "down", _flag)
        self._max_fails = _per_backend(max_fails, n, "max_fails", _count)
        self._fail_timeout = _per_backend(fail_timeout, n, "fail_timeout", _seconds)
        # Peers added later (add_backend, a simulation's events) get the scalar setting, else the default.
        self._default_max_fails = 1 if _is_list(max_fails) else _count(max_fails, "max_fails")
        self._default_fail_timeout = 10 if _is_list(fail_timeout) else _seconds(fail_timeout, "fail_timeout")
        if max_conns is not None:
            if "u_thresholds" in options or "l_thresholds" in options:
                raise ValueError("give max_conns or u_thresholds/l_thresholds, not both")
            if pool is not None:
                raise ValueError("max_conns belongs to the shared pool: set its thresholds when building it")
            limits = _per_backend(max_conns, n, "max_conns", _max_conns)
            options["u_thresholds"] = limits
            options["l_thresholds"] = limits
        self._extra_init(n, options)
        super().__init__(weights, **options)
        if any(self._down):
            if pool is not None:
                raise ValueError("down belongs to the shared pool: set those weights to 0 when building it")
            for b, d in enumerate(self._down):
                if d:
                    self.pool.set_weight(b, 0)

    # -- what balancers may extend ---------------------------------------------------
    def _extra_init(self, n: int, options: dict[str, Any]) -> None:
        """Read balancer options before the pool exists (``options`` may still be edited)."""

    def _extra_len(self, capacity: int) -> int:
        """Length of the balancer's own region for ``capacity`` ids."""
        return 0

    def _fill_extra(self, state: np.ndarray) -> None:
        """Initialise the balancer's header fields and region of a fresh state."""

    def _id_extra(self, b: int) -> tuple[int, int]:
        """``(ID_SERVER_REG, ID_SERVER_GROUP)`` of backend id ``b`` (the ketama server string)."""
        return 0, 0

    # -- state --------------------------------------------------------------------------
    def _blank(self, capacity: int) -> np.ndarray:
        extra = self._extra_len(capacity)
        at = HEADER + (N_ID_ROWS + N_SLOT_ROWS) * capacity
        state = np.zeros(at + extra, dtype=np.int64)
        state[CAP] = capacity
        state[EXTRA_AT] = at
        state[EXTRA_LEN] = extra
        rows = state[HEADER: HEADER + N_ID_ROWS * capacity].reshape(N_ID_ROWS, capacity)
        rows[ID_MAX_FAILS] = self._default_max_fails
        rows[ID_FAIL_TIMEOUT] = self._default_fail_timeout
        for b in range(len(self._backup)):
            rows[ID_BACKUP, b] = self._backup[b]
            rows[ID_MAX_FAILS, b] = self._max_fails[b]
            rows[ID_FAIL_TIMEOUT, b] = self._fail_timeout[b]
            rows[ID_SERVER_REG, b], rows[ID_SERVER_GROUP, b] = self._id_extra(b)
        self._fill_extra(state)
        return state

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        state = self._blank(self.pool.capacity)
        fstate = np.zeros(N_FSTATE, dtype=np.float64)
        self._changed.entry(self.pool.table, state, fstate, EV_RESIZE, 0)
        return state, fstate

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        # Keep everything (a larger table is no reload): copy the rows, then the region.
        old = self.state
        old_cap = int(old[CAP])
        state = self._blank(capacity)
        state[:HEADER] = old[:HEADER]
        state[CAP] = capacity
        state[EXTRA_AT] = HEADER + (N_ID_ROWS + N_SLOT_ROWS) * capacity
        state[EXTRA_LEN] = self._extra_len(capacity)
        for r in range(N_ID_ROWS + N_SLOT_ROWS):
            state[HEADER + r * capacity: HEADER + r * capacity + old_cap] = \
                old[HEADER + r * old_cap: HEADER + (r + 1) * old_cap]
        self._copy_extra(old, state)
        return state, self.fstate

    def _copy_extra(self, old: np.ndarray, new: np.ndarray) -> None:
        """Carry the balancer's region over to a larger state (default: rebuilt by the next reload)."""
        self._changed.entry(self.pool.table, new, self.fstate, EV_RESIZE, 0)

    # -- the peer parameters through the scheduler ------------------------------------------
    def release(self, backend: int, *, active: bool | None = None, failed: bool = False,
                now: float = 0.0) -> None:
        """One request on ``backend`` ended; ``failed=True`` counts a failure at time ``now``.

        A failure is what nginx records when the upstream connection or
        request fails (``NGX_PEER_FAILED``): see the module docs.
        """
        failed = bool(_flag(failed, "failed"))
        t = _validate.time(now)
        b = self.pool.check_id(backend, listed=False)
        self.pool.release(b, active=active)
        free_peer(self.pool.table, self.state, b, failed, int(np.floor(t)))

    def add_backend(self, weight: int = 1, *, backup: bool = False, max_fails: int | None = None,
                    fail_timeout: int | None = None, **options: Any) -> int:
        """Add a peer at the end of the config (a reload); returns its id."""
        b_flag = _flag(backup, "backup")
        if b_flag and not self.accepts_backup:
            raise ValueError(f"{self.name}: nginx does not accept backup servers with this balancer")
        mf = self._default_max_fails if max_fails is None else _count(max_fails, "max_fails")
        ft = self._default_fail_timeout if fail_timeout is None else _seconds(fail_timeout, "fail_timeout")
        _validate.weight(weight)
        extra = self._new_id_extra(options)
        pool = self.pool
        b = pool.n_ids
        pool.reserve(b + 1)  # may resize our state first
        self._set_id(b, b_flag, mf, ft, extra)
        try:
            got = pool.add(weight, **options)
        except Exception:
            self._unset_id(b)
            raise
        return got

    def _detach_extra(self, original: Scheduler) -> None:
        # the per-backend configuration lists grow with add_backend: a detached copy gets its own
        for attr in ("_backup", "_down", "_max_fails", "_fail_timeout", "servers"):
            if hasattr(original, attr):
                setattr(self, attr, list(getattr(original, attr)))

    def _new_id_extra(self, options: dict[str, Any]) -> Any:
        """Pop and validate balancer-specific options of :meth:`add_backend`."""
        return None

    def _set_id(self, b: int, backup: int, max_fails: int, fail_timeout: int, extra: Any) -> None:
        cap = int(self.state[CAP])
        self.state[HEADER + ID_BACKUP * cap + b] = backup
        self.state[HEADER + ID_MAX_FAILS * cap + b] = max_fails
        self.state[HEADER + ID_FAIL_TIMEOUT * cap + b] = fail_timeout
        while len(self._backup) <= b:
            self._backup.append(0)
            self._max_fails.append(self._default_max_fails)
            self._fail_timeout.append(self._default_fail_timeout)
        self._backup[b], self._max_fails[b], self._fail_timeout[b] = backup, max_fails, fail_timeout

    def _unset_id(self, b: int) -> None:
        cap = int(self.state[CAP])
        self.state[HEADER + ID_BACKUP * cap + b] = 0
        self.state[HEADER + ID_MAX_FAILS * cap + b] = self._default_max_fails
        self.state[HEADER + ID_FAIL_TIMEOUT * cap + b] = self._default_fail_timeout

    @property
    def backups(self) -> np.ndarray:
        """True for backup peers, per backend id (read-only)."""
        cap = int(self.state[CAP])
        v = self.state[HEADER + ID_BACKUP * cap: HEADER + ID_BACKUP * cap + self.pool.n_ids] != 0
        v.flags.writeable = False
        return v

    def _slot_values(self, row: int) -> np.ndarray:
        cap = int(self.state[CAP])
        start = HEADER + (N_ID_ROWS + row) * cap
        slots = self.pool.table[SLOT, : self.pool.n_ids]
        listed = slots < self.pool.table[T_HEADER, LISTED]
        out = np.zeros(self.pool.n_ids, dtype=np.int64)
        out[listed] = self.state[start + slots[listed]]
        out.flags.writeable = False
        return out

    @property
    def current_weights(self) -> np.ndarray:
        """``current_weight`` per backend id (0 for removed ones; read-only)."""
        return self._slot_values(S_CW)

    @property
    def effective_weights(self) -> np.ndarray:
        """``effective_weight`` per backend id (0 for removed ones; read-only)."""
        return self._slot_values(S_EW)

    @property
    def fails(self) -> np.ndarray:
        """Failures counted per backend id (read-only)."""
        return self._slot_values(S_FAILS)


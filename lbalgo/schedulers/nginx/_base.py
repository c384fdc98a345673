"""``NginxScheduler``, the Python base of the nginx balancers: peer options and state.

It reads and validates the ``server`` parameters (``down``, ``backup``,
``max_fails``, ``fail_timeout``, ``max_conns``), lays out a fresh or
resized state, records failures (``release(..., failed=True)``), adds peers
(``add_backend``, a reload) and exposes the per-peer counters. The peer
model itself, the state layout and the kernels every balancer shares (the
smooth-WRR pass, the reload, the failure bookkeeping) are in
:mod:`~lbalgo.schedulers.nginx._peers`, whose docstring states the semantics.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from ... import _validate
from ..._table import EV_RESIZE, LISTED, SLOT
from ..._table import HEADER as T_HEADER
from ..base import Scheduler
from ._peers import (
    CAP,
    EXTRA_AT,
    EXTRA_LEN,
    HEADER,
    ID_BACKUP,
    ID_FAIL_TIMEOUT,
    ID_MAX_FAILS,
    ID_SERVER_GROUP,
    ID_SERVER_REG,
    N_FSTATE,
    N_ID_ROWS,
    N_SLOT_ROWS,
    S_CW,
    S_EW,
    S_FAILS,
    free_peer,
)


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
            limits = _per_backend(max_conns, n, "max_conns", _validate.threshold)
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


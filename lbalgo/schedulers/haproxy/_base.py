"""``HAProxyScheduler``, the Python base of the HAProxy algorithms: server options and state.

It reads and validates the ``server`` keywords (``weight`` 0..256, ``id``,
``backup``, ``allbackups``, ``maxconn``), lays out a fresh or resized
state and grows the algorithm's region, validates the runtime API's pool
edits (``set weight``, ``add server``) and exposes the per-server values.
The server model itself, the state layout and the kernels every algorithm
shares (the weight bookkeeping, the numeric ids) are in
:mod:`~lbalgo.schedulers.haproxy._servers`, whose docstring states the semantics.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from ... import _validate
from ..._table import EV_RESIZE, WEIGHT
from ..base import Scheduler
from ._servers import (
    ALLBACKUPS,
    BE_WEIGHT_SCALE,
    CAP,
    FBCK,
    HEADER,
    ID_BACKUP,
    ID_EW,
    ID_EXPLICIT,
    ID_PUID,
    N_ID_ROWS,
    REGION_AT,
    REGION_LEN,
    SRV_UWGHT_MAX,
    WDIV,
    WMULT,
)


def _uweight(value: Any, what: str) -> int:
    w = _validate.weight(value, what)
    if w > SRV_UWGHT_MAX:
        raise ValueError(f"{what} must be <= {SRV_UWGHT_MAX} (HAProxy's largest weight), got {w}")
    return w


def _flags(value: Any, n: int, what: str) -> list[int]:
    if value is None:
        return [0] * n
    values = list(value)
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} entries but there are {n} backends")
    for i, v in enumerate(values):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{what}[{i}] must be True or False, got {v!r}")
    return [int(v) for v in values]


def _server_id(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be a positive integer or None, got {value!r}")
    if not 1 <= int(value) <= 2**20 - 1:
        raise ValueError(f"{what} must be in 1..{2**20 - 1}, got {int(value)}")
    return int(value)


class HAProxyScheduler(Scheduler):
    """Base of the HAProxy algorithms: weights 0..256, server ids, backups, maxconn.

    Parameters
    ----------
    weights : sequence of int
        Server weights in config order, 0..256 (0: not usable).
    ids : sequence of int or None, optional
        Numeric server ids (HAProxy's ``id``); None entries are numbered
        automatically. They place the consistent-hash points and order ``first``.
    backup : sequence of bool, optional
        Backup servers: used only when no active server is usable.
    allbackups : bool
        Spread the load over every usable backup, not only the first.
    maxconn : int or sequence of int, optional
        Concurrent requests per server (0 = no limit); sets the pool's thresholds.
    **options
        Passed to :class:`~lbalgo.schedulers.base.Scheduler` (``pool``, ``seed``, ...).
    """

    family = "HAProxy 2.6"
    insertion = "tail"
    #: Whether weights are reduced by their gcd (map-based algorithms) and edits to the list are reloads.
    map_based: ClassVar[bool] = False

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *,
                 ids: Sequence[int | None] | None = None, backup: Sequence[bool] | None = None,
                 allbackups: bool = False, maxconn: int | Sequence[int] | None = None,
                 **options: Any) -> None:
        pool = options.get("pool")
        if pool is not None:
            n = pool.n_ids
            for b, w in enumerate(pool.weights.tolist()):
                _uweight(w, f"pool weight of backend {b}")
        else:
            w = _validate.weights([] if weights is None else weights)
            n = len(w)
            for i, v in enumerate(w.tolist()):
                _uweight(v, f"weights[{i}]")
        if not isinstance(allbackups, (bool, np.bool_)):
            raise TypeError(f"allbackups must be True or False, got {allbackups!r}")
        self.allbackups = bool(allbackups)
        self._backup = _flags(backup, n, "backup")
        if ids is None:
            self._ids = [0] * n
        else:
            if isinstance(ids, (str, bytes)) or len(ids) != n:
                raise ValueError(f"ids must have one entry per backend ({n})")
            self._ids = [_server_id(v, f"ids[{i}]") for i, v in enumerate(ids)]
            given = [v for v in self._ids if v]
            if len(set(given)) != len(given):
                raise ValueError(f"ids must be distinct, got {list(ids)}")
        if maxconn is not None:
            if "u_thresholds" in options or "l_thresholds" in options:
                raise ValueError("give maxconn or u_thresholds/l_thresholds, not both")
            if pool is not None:
                raise ValueError("maxconn belongs to the shared pool: set its thresholds when building it")
            if isinstance(maxconn, (list, tuple, np.ndarray)):
                limits = [_validate.threshold(v, f"maxconn[{i}]") for i, v in enumerate(maxconn)]
                if len(limits) != n:
                    raise ValueError(f"maxconn has {len(limits)} entries but there are {n} backends")
            else:
                limits = [_validate.threshold(maxconn, "maxconn")] * n
            options["u_thresholds"] = limits
            options["l_thresholds"] = limits
        self._algo_init(n)
        super().__init__(weights, **options)

    # -- what algorithms extend ------------------------------------------------------------
    def _algo_init(self, n: int) -> None:
        """Read algorithm options before the pool exists."""

    def _region_need(self) -> int:
        """Values the algorithm's region needs for the pool as it is now."""
        return 0

    def _fill_algo(self, state: np.ndarray) -> None:
        """Set the algorithm's header fields in a fresh state."""

    # -- state ---------------------------------------------------------------------------------
    def _layout(self, capacity: int, region: int) -> np.ndarray:
        start = HEADER + N_ID_ROWS * capacity
        state = np.zeros(start + region, dtype=np.int64)
        state[CAP] = capacity
        state[ALLBACKUPS] = int(self.allbackups)
        state[WMULT] = 1
        state[WDIV] = 1 if self.map_based else BE_WEIGHT_SCALE
        state[FBCK] = -1
        state[REGION_AT] = start
        state[REGION_LEN] = region
        return state

    def _region_room(self, need: int) -> int:
        return 2 * need + 64 if need else 0

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        capacity = self.pool.capacity
        state = self._layout(capacity, self._region_room(self._region_need()))
        rows = state[HEADER: HEADER + N_ID_ROWS * capacity].reshape(N_ID_ROWS, capacity)
        rows[ID_BACKUP, : len(self._backup)] = self._backup
        rows[ID_EXPLICIT, : len(self._ids)] = self._ids
        if self.map_based:
            state[WMULT] = self._gcd()
        self._fill_algo(state)
        fstate = np.zeros(0, dtype=np.float64)
        self._changed.entry(self.pool.table, state, fstate, EV_RESIZE, 0)
        return state, fstate

    def _gcd(self) -> int:
        """``init_server_map``: the gcd of the non-zero configured weights (1 if none)."""
        g = 0
        for w in self.pool.table[WEIGHT, : len(self.pool)].tolist():
            g = math.gcd(g, min(int(w), SRV_UWGHT_MAX))
        return g or 1

    def _resized(self, capacity: int, region: int) -> np.ndarray:
        old = self.state
        old_cap = int(old[CAP])
        state = self._layout(capacity, region)
        state[:HEADER] = old[:HEADER]
        state[CAP] = capacity
        state[REGION_AT] = HEADER + N_ID_ROWS * capacity
        state[REGION_LEN] = region
        for r in range(N_ID_ROWS):
            state[HEADER + r * capacity: HEADER + r * capacity + old_cap] = \
                old[HEADER + r * old_cap: HEADER + (r + 1) * old_cap]
        n = min(int(old[REGION_LEN]), region)
        start, old_start = int(state[REGION_AT]), int(old[REGION_AT])
        state[start: start + n] = old[old_start: old_start + n]
        self._after_resize(old, state)
        return state

    def _after_resize(self, old: np.ndarray, new: np.ndarray) -> None:
        """Adjust the algorithm's region to a new length (the values were copied as they were)."""

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        return self._resized(capacity, int(self.state[REGION_LEN])), self.fstate

    def _pool_changed(self, event: int, where: int) -> None:
        if event != EV_RESIZE:
            need = self._region_need()
            if need > self.state[REGION_LEN]:
                self.state = self._resized(int(self.state[CAP]), self._region_room(need))
        super()._pool_changed(event, where)

    def _headroom(self) -> int:
        """Region values a simulation may need beyond the current pool (see :meth:`reserve`)."""
        return 0

    def reserve(self, picks: int) -> None:
        """Make room for a simulation's decisions and for regions up to twice the current need."""
        super().reserve(picks)
        need = 2 * self._region_need() + self._headroom()
        if need > self.state[REGION_LEN]:
            self.state = self._resized(int(self.state[CAP]), need)

    def _detach_extra(self, original: Scheduler) -> None:
        # the per-backend configuration lists grow with add_backend: a detached copy gets its own
        self._backup = list(original._backup)  # type: ignore[attr-defined]
        self._ids = list(original._ids)  # type: ignore[attr-defined]

    # -- pool edits, validated as HAProxy does --------------------------------------------------
    def set_weight(self, backend: int, weight: int) -> None:
        """``set weight``: 0..256; 0 takes the server down (see :meth:`Pool.set_weight`)."""
        self.pool.set_weight(backend, _uweight(weight, "weight"))

    def set_weights(self, weights: Sequence[int] | np.ndarray) -> None:
        """Set all weights, one per backend id, each 0..256 (see :meth:`Pool.set_weights`)."""
        for i, w in enumerate(list(weights)):
            _uweight(w, f"weights[{i}]")
        self.pool.set_weights(weights)

    def add_backend(self, weight: int = 1, *, backup: bool = False, id: int | None = None,
                    **options: Any) -> int:
        """``add server`` + ``enable server``: a new server at the end of the list; returns its backend id."""
        _uweight(weight, "weight")
        if not isinstance(backup, (bool, np.bool_)):
            raise TypeError(f"backup must be True or False, got {backup!r}")
        explicit = _server_id(id, "id")
        if explicit and explicit in self.server_ids.tolist():
            raise ValueError(f"id {explicit} is already used by another server")
        pool = self.pool
        b = pool.n_ids
        pool.reserve(b + 1)
        cap = int(self.state[CAP])
        self.state[HEADER + ID_BACKUP * cap + b] = int(backup)
        self.state[HEADER + ID_EXPLICIT * cap + b] = explicit
        while len(self._backup) <= b:
            self._backup.append(0)
            self._ids.append(0)
        self._backup[b], self._ids[b] = int(backup), explicit
        return pool.add(weight, **options)

    # -- views -------------------------------------------------------------------------------
    def _id_row(self, row: int) -> np.ndarray:
        cap = int(self.state[CAP])
        v = self.state[HEADER + row * cap: HEADER + row * cap + self.pool.n_ids].copy()
        v.flags.writeable = False
        return v

    @property
    def server_ids(self) -> np.ndarray:
        """HAProxy's numeric id (``puid``) per backend id; 0 for removed servers (read-only)."""
        ids = self._id_row(ID_PUID).copy()
        ids[~self.pool.available] = 0
        ids.flags.writeable = False
        return ids

    @property
    def eweights(self) -> np.ndarray:
        """Effective weight per backend id (0: not usable; read-only)."""
        return self._id_row(ID_EW)

    @property
    def backups(self) -> np.ndarray:
        """True for backup servers, per backend id (read-only)."""
        return self._id_row(ID_BACKUP) != 0

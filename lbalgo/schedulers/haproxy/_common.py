"""The HAProxy 2.6 server model shared by every ``balance`` algorithm (``src/backend.c``, ``src/server.c``).

A backend is a ``server`` line, in config order. lbalgo maps its keywords::

    weight N    the pool weight, 0..256; 0 takes the server out (not usable)
    id N        ids=[...]: the numeric id (puid); default 1, 2, ... in config
                order, skipping explicit ones (``check_config_validity``)
    backup      backup=[...]; with allbackups=True all usable backups share
                the load when no active server is usable, else only the first
    maxconn N   the pool's thresholds with upper = lower = N: a server at
                maxconn is full (served = active + inactive connections)

Weights are scaled: ``eweight = ceil(uweight * wdiv / wmult)``. The dynamic
algorithms (roundrobin, leastconn, first, random, ``hash-type consistent``)
set wdiv = 16 (BE_WEIGHT_SCALE) and wmult = 1, so eweight = 16 * weight.
The map-based ones (static-rr, ``hash-type map-based``) set wmult to the
gcd of the configured weights and leave wdiv at 1 (``init_server_map`` never
sets it): eweight = weight / gcd, and the map has sum(weight) / gcd slots.

Bookkeeping, after every change (``recount_servers``, ``update_backend_weight``)::

    srv_act, tot_wact = usable active servers and their eweights
    srv_bck, tot_wbck = the same for backups
    fbck = the first usable backup in config order (unless allbackups)
    if srv_act:  tot_weight, tot_used = tot_wact, srv_act
    elif fbck:   tot_weight, tot_used = fbck's eweight, 1
    else:        tot_weight, tot_used = tot_wbck, srv_bck

Pool edits are HAProxy's runtime API: ``set_weight`` is ``set weight``
(0: the server goes down, back to >0: up), ``add_backend`` is ``add server``
then ``enable server`` (the new server gets the smallest free id),
``remove_backend`` is ``disable server`` then ``del server``. The map-based
algorithms accept no ``add``/``del server``: there an add or a removal is a
new configuration (ids and wmult recomputed, state from scratch).

State layout (int64): a header, per-id rows, then the algorithm's region
(the server map, the consistent-hash ring).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from ... import _validate
from ..._jit import kernel
from ..._table import (
    ACTIVE,
    BACKEND,
    EV_ADD,
    EV_DELETE,
    EV_RESIZE,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    LISTED,
    SLOT,
    WEIGHT,
    listed,
)
from ..._table import HEADER as T_HEADER
from ..base import Scheduler

BE_WEIGHT_SCALE = 16
SRV_UWGHT_MAX = 256
SRV_EWGHT_MAX = 4096

# header fields
CAP = 0
ALLBACKUPS = 1
SRV_ACT, SRV_BCK, TOT_WACT, TOT_WBCK, FBCK, TOT_WEIGHT, TOT_USED = 2, 3, 4, 5, 6, 7, 8
WMULT = 9  # 1, or the gcd of the configured weights (map-based)
SEQ = 10  # insertion counter: equal tree keys keep insertion order
REGION_AT = 11
REGION_LEN = 12
OVERFLOW = 13  # the region was too small for the last rebuild (a simulation past reserve())
WDIV = 14  # lbprm.wdiv: 16 for the dynamic algorithms, 1 for the map-based ones (init_server_map leaves it)
ALGO = 16  # first header field an algorithm may use (up to HEADER)
HEADER = 64

# per-id rows
(ID_BACKUP, ID_PUID, ID_EXPLICIT, ID_EW, ID_UW, ID_TREE, ID_LINKED, ID_KEY, ID_SEQ, ID_NPOS, ID_LPOS,
 ID_RWEIGHT, ID_NEXT_FULL, ID_NODES_NOW, ID_NODES_TOT, ID_ALLOC_PUID, ID_FIRST_TOT, ID_WSCORE, ID_PRIO,
 ID_POS, ID_STEP, ID_REM) = range(22)
N_ID_ROWS = 22
# ID_TREE values: the tree a server belongs to (HAProxy's lb_tree); ID_LINKED says whether it is in it now
NO_TREE, CURR, T0, T1 = 0, 1, 2, 3


@kernel(inline="always")
def at(state, row, b):
    """Index of per-id field ``row`` of backend id ``b``."""
    return HEADER + row * state[CAP] + b


@kernel(inline="always")
def row(state, r):
    """Return a view of per-id row ``r``."""
    cap = state[CAP]
    return state[HEADER + r * cap: HEADER + (r + 1) * cap]


@kernel(inline="always")
def is_listed(table, b):
    """Whether backend id ``b`` is in the pool's list."""
    return table[SLOT, b] < table[T_HEADER, LISTED]


@kernel(inline="always")
def next_eweight(table, state, b):
    """``server_recalc_eweight``: ``ceil(uweight * 16 / wmult)`` (0 for a removed server)."""
    if not is_listed(table, b):
        return 0
    uw = min(table[WEIGHT, table[SLOT, b]], SRV_UWGHT_MAX)
    wmult = state[WMULT]
    return (uw * state[WDIV] + wmult - 1) // wmult


@kernel(inline="always")
def is_full(table, b):
    """At ``maxconn`` (the pool's overload flag, thresholds upper = lower = maxconn)."""
    return table[FLAGS, table[SLOT, b]] & F_OVERLOAD != 0


@kernel(inline="always")
def served(table, b):
    """``srv->served``: the requests the server is serving (active + inactive connections)."""
    s = table[SLOT, b]
    return table[ACTIVE, s] + table[INACTIVE, s]


@kernel(inline="always")
def usable_now(state, b):
    """``srv_currently_usable``: committed eweight > 0."""
    return state[at(state, ID_EW, b)] > 0


@kernel
def recount(table, state):
    """``recount_servers`` + ``update_backend_weight`` from the committed eweights."""
    act = 0
    bck = 0
    wact = 0
    wbck = 0
    fbck = -1
    all_bk = state[ALLBACKUPS]
    for s in range(listed(table)):
        b = table[BACKEND, s]
        ew = state[at(state, ID_EW, b)]
        if ew <= 0:
            continue
        if state[at(state, ID_BACKUP, b)]:
            if bck == 0 and not all_bk:
                fbck = b
            bck += 1
            wbck += ew
        else:
            act += 1
            wact += ew
    state[SRV_ACT] = act
    state[SRV_BCK] = bck
    state[TOT_WACT] = wact
    state[TOT_WBCK] = wbck
    state[FBCK] = fbck
    if act:
        state[TOT_WEIGHT] = wact
        state[TOT_USED] = act
    elif fbck >= 0:
        state[TOT_WEIGHT] = state[at(state, ID_EW, fbck)]
        state[TOT_USED] = 1
    else:
        state[TOT_WEIGHT] = wbck
        state[TOT_USED] = bck


@kernel
def id_taken(table, state, puid, skip):
    """Whether a listed server other than id ``skip`` has numeric id ``puid``."""
    for s in range(listed(table)):
        b = table[BACKEND, s]
        if b != skip and state[at(state, ID_PUID, b)] == puid:
            return True
    return False


@kernel
def assign_ids(table, state):
    """Numeric ids as ``check_config_validity`` gives them: explicit ones, then 1, 2, ... skipping those."""
    for s in range(listed(table)):
        b = table[BACKEND, s]
        state[at(state, ID_PUID, b)] = state[at(state, ID_EXPLICIT, b)]
    next_id = 1
    for s in range(listed(table)):
        b = table[BACKEND, s]
        if state[at(state, ID_PUID, b)] == 0:
            while id_taken(table, state, next_id, b):
                next_id += 1
            state[at(state, ID_PUID, b)] = next_id
        next_id += 1


@kernel
def added_id(table, state, b):
    """Return the id ``add server`` gives: the explicit one, else the smallest free."""
    puid = state[at(state, ID_EXPLICIT, b)]
    if puid == 0:
        puid = 1
        while id_taken(table, state, puid, b):
            puid += 1
    state[at(state, ID_PUID, b)] = puid


@kernel
def event_backend(table, event, where):
    """Return the backend id an event is about: at slot ``where``, or the one just unlinked (EV_DELETE)."""
    if event == EV_DELETE:
        return table[BACKEND, table[T_HEADER, LISTED]]
    if event == EV_ADD or where < table[T_HEADER, LISTED]:
        return table[BACKEND, where]
    return -1


@kernel
def next_seq(state):
    """Return the next insertion number (tree order among equal keys)."""
    q = state[SEQ]
    state[SEQ] = q + 1
    return q


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

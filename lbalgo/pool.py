"""The backend pool: stable ids, list order, weights, counters and flags.

A :class:`Pool` owns the backend table of :mod:`lbalgo._table` and is the only
thing that edits it from Python; every edit is one of the table's kernels,
the same ones the simulator's event loop calls. Schedulers subscribe to a
pool and get one call per change (add, delete, update), like IPVS's
``add_dest`` / ``del_dest`` / ``upd_dest`` hooks; several schedulers, or a
simulation, can share one pool.

Every method validates all of its input before it changes anything, so a
call that raises leaves the pool as it was.
"""

from __future__ import annotations

import bisect
import copy as _copy
from typing import Any, Callable, Sequence

import numpy as np

from . import _table, _validate, addresses
from ._table import (
    ACTIVE,
    BACKEND,
    EV_ADD,
    EV_COUNTERS,
    EV_DELETE,
    EV_RESIZE,
    EV_UPDATE,
    F_AVAILABLE,
    F_FAILED,
    F_OVERLOAD,
    FLAGS,
    HEADER,
    IDS,
    INACTIVE,
    L_THRESHOLD,
    LAST_WEIGHT,
    LISTED,
    PERSIST,
    SLOT,
    U_THRESHOLD,
    WEIGHT,
)
from .addresses import endpoint_string, parse_endpoint  # noqa: F401  (re-exported: lbalgo.pool.parse_endpoint)
from .errors import InvalidArgument, InvalidArgumentType, UnknownBackend, short

#: Where ``add`` puts a new backend in the list.
INSERTIONS = ("head", "tail", "address")
NEW_CONNS = ("active", "inactive")

#: ``listener(event, where)``: ``where`` is a slot, or a backend id for EV_COUNTERS.
Listener = Callable[[int, int], None]


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class Pool:
    """Backends of one service, in the order the modelled system walks them.

    Parameters
    ----------
    weights : sequence of int, optional
        One weight per backend, in list order. Backend ids are 0..n-1 in this
        order. Weights are integers in 0..65535; 0 quiesces a backend.
    addresses : sequence, optional
        One address per backend (``"10.0.0.1"``, ``"10.0.0.1:8080"``,
        ``"[2001:db8::1]:80"``, an int or an ``ipaddress`` object). Needed by
        schedulers that hash backend addresses (MH) and by ``insertion="address"``.
    u_thresholds, l_thresholds : sequence of int, optional
        Upper and lower connection thresholds per backend (IPVS ``-x`` / ``-y``;
        0 = none). A backend with ``active + inactive >= upper`` is overloaded
        and skipped by the schedulers until it drains
        (``docs/algorithms/connection.md``).
    insertion : {"head", "tail", "address"}
        Where :meth:`add` inserts: IPVS links new destinations at the head of
        its list; nginx/HAProxy keep configuration order ("tail"); kube-proxy
        sorts endpoints by their ``"ip:port"`` string ("address").
    new_conns : {"active", "inactive"}
        Which counter a new connection joins. "active" (default) models an
        established TCP connection. "inactive" is the exact IPVS life cycle:
        every new connection starts inactive and becomes active only when
        :meth:`activate` is called (the TCP handshake completed); UDP
        connections never do.
    """

    def __init__(
        self,
        weights: Sequence[int] | np.ndarray | None = None,
        *,
        addresses: Sequence[Any] | None = None,
        u_thresholds: Sequence[int] | None = None,
        l_thresholds: Sequence[int] | None = None,
        insertion: str = "head",
        new_conns: str = "active",
    ) -> None:
        w = _validate.weights([] if weights is None else weights)
        n = len(w)
        if insertion not in INSERTIONS:
            raise InvalidArgument(f"insertion must be one of {INSERTIONS}, got {short(insertion)}")
        if new_conns not in NEW_CONNS:
            raise InvalidArgument(f"new_conns must be one of {NEW_CONNS}, got {short(new_conns)}")
        addrs, ports = self._parse_addresses(addresses, n)
        upper = self._parse_thresholds(u_thresholds, n, "u_thresholds")
        lower = self._parse_thresholds(l_thresholds, n, "l_thresholds")
        if insertion == "address" and n and addrs[0] is None:
            raise InvalidArgument("insertion='address' needs an address for every backend")

        self.insertion = insertion
        self.new_conns = new_conns
        #: How the compiled drivers count a new connection (``_table.COUNT_ACTIVE`` / ``COUNT_INACTIVE``).
        self.count_mode = _table.COUNT_ACTIVE if new_conns == "active" else _table.COUNT_INACTIVE
        self.table = _table.new_table(2 * n)
        self.addresses: list[addresses.Address | None] = addrs
        self.ports: list[int] = ports
        self._listeners: list[Listener] = []
        self._counter_listeners: list[Listener] = []
        #: Endpoint strings of the listed backends in list order (``insertion="address"`` only).
        self._keys: list[str] = [endpoint_string(a, p) for a, p in zip(addrs, ports)] \
            if insertion == "address" else []
        self._keys_sorted = all(a <= b for a, b in zip(self._keys, self._keys[1:]))
        t = self.table
        ids = np.arange(n)
        t[WEIGHT, :n] = w
        t[LAST_WEIGHT, :n] = w
        t[U_THRESHOLD, :n] = upper
        t[L_THRESHOLD, :n] = lower
        t[FLAGS, :n] = F_AVAILABLE
        t[BACKEND, :n] = ids
        t[SLOT, :n] = ids
        t[HEADER, LISTED] = n
        t[HEADER, IDS] = n

    # -- construction helpers -------------------------------------------------
    @staticmethod
    def _parse_addresses(values: Sequence[Any] | None, n: int) -> tuple[list, list]:
        if values is None:
            return [None] * n, [0] * n
        values = list(values)
        if len(values) != n:
            raise InvalidArgument(f"addresses has {len(values)} entries but there are {n} weights")
        parsed = [parse_endpoint(v, f"addresses[{i}]") for i, v in enumerate(values)]
        return [a for a, _ in parsed], [p for _, p in parsed]

    @staticmethod
    def _parse_thresholds(values: Sequence[int] | None, n: int, what: str) -> list[int]:
        if values is None:
            return [0] * n
        values = list(values)
        if len(values) != n:
            raise InvalidArgument(f"{what} has {len(values)} entries but there are {n} weights")
        return [_validate.threshold(v, f"{what}[{i}]") for i, v in enumerate(values)]

    def copy(self) -> Pool:
        """Return an independent pool with the same backends, counters and list order, and no subscribers."""
        other = _copy.copy(self)
        other.table = self.table.copy()
        other.addresses = list(self.addresses)
        other.ports = list(self.ports)
        other._keys = list(self._keys)
        other._listeners = []
        other._counter_listeners = []
        return other

    # -- listeners --------------------------------------------------------------
    def subscribe(self, listener: Listener, *, counters: bool = False) -> None:
        """Call ``listener(event, slot)`` after every add, delete and update.

        With ``counters=True`` it also hears ``(EV_COUNTERS, backend)`` after
        every ``release``, ``activate`` and ``deactivate`` made through the
        pool (schedulers that index the counters, ``LC(index="tree")``).
        """
        self._listeners.append(listener)
        if counters:
            self._counter_listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)
        if listener in self._counter_listeners:
            self._counter_listeners.remove(listener)

    @property
    def subscribers(self) -> int:
        """How many schedulers (or other listeners) follow this pool's changes."""
        return len(self._listeners)

    def _notify(self, event: int, where: int) -> None:
        for listener in self._listeners:
            listener(event, where)

    def _counters_changed(self, backend: int) -> None:
        for listener in self._counter_listeners:
            listener(EV_COUNTERS, backend)

    # -- read-only views (indexed by backend id) ----------------------------------
    @property
    def n_ids(self) -> int:
        """Number of backend ids handed out (listed and removed)."""
        return int(self.table[HEADER, IDS])

    def _by_id(self, row: int) -> np.ndarray:
        slots = self.table[SLOT, : self.n_ids]
        return _readonly(self.table[row, slots])

    @property
    def weights(self) -> np.ndarray:
        """Weight per backend id (removed backends keep their last value)."""
        return self._by_id(WEIGHT)

    @property
    def last_weights(self) -> np.ndarray:
        """Latest non-zero weight per backend id (IPVS ``last_weight``)."""
        return self._by_id(LAST_WEIGHT)

    @property
    def active_conns(self) -> np.ndarray:
        """Active connections per backend id."""
        return self._by_id(ACTIVE)

    @property
    def inactive_conns(self) -> np.ndarray:
        """Inactive connections per backend id."""
        return self._by_id(INACTIVE)

    @property
    def persist_conns(self) -> np.ndarray:
        """Persistence templates per backend id."""
        return self._by_id(PERSIST)

    @property
    def available(self) -> np.ndarray:
        """True for backends in the list (IPVS ``IP_VS_DEST_F_AVAILABLE``)."""
        return (self._by_id(FLAGS) & F_AVAILABLE) != 0

    @property
    def removed(self) -> np.ndarray:
        """True for backends that were removed (their connections may still drain)."""
        return ~self.available

    @property
    def overloaded(self) -> np.ndarray:
        """True for backends over their upper connection threshold."""
        return (self._by_id(FLAGS) & F_OVERLOAD) != 0

    @property
    def failed(self) -> np.ndarray:
        """True for backends that :meth:`fail` took out and :meth:`recover` has not restored."""
        return (self._by_id(FLAGS) & F_FAILED) != 0

    @property
    def list_order(self) -> np.ndarray:
        """Ids of the listed backends, in list order (the order ties are broken in)."""
        return _readonly(self.table[BACKEND, : self.table[HEADER, LISTED]])

    def __len__(self) -> int:
        """Return the number of listed (not removed) backends."""
        return int(self.table[HEADER, LISTED])

    # -- checks -------------------------------------------------------------------
    def check_id(self, backend: Any, *, listed: bool = True) -> int:
        """Return ``backend`` as an int id, or raise if unknown (or removed, if ``listed``)."""
        if isinstance(backend, (bool, np.bool_)) or not isinstance(backend, (int, np.integer)):
            raise InvalidArgumentType(f"backend id must be an integer, got {short(backend)}")
        b = int(backend)
        n_ids = self.n_ids
        if not 0 <= b < n_ids:
            raise UnknownBackend(f"no backend with id {b} (ids are 0..{n_ids - 1})" if n_ids
                                 else f"no backend with id {b} (the pool has none)")
        if listed and not self.table[FLAGS, self.table[SLOT, b]] & F_AVAILABLE:
            raise UnknownBackend(f"backend {b} was removed")
        return b

    def position(self, backend: int) -> int:
        """1-based list position of a listed backend."""
        b = self.check_id(backend)
        return int(self.table[SLOT, b]) + 1

    def field(self, row: int, backend: int) -> int:
        """One table field of one backend id (``row`` is a row constant of :mod:`lbalgo._table`)."""
        return int(self.table[row, self.table[SLOT, backend]])

    # -- membership ----------------------------------------------------------------
    def add(
        self,
        weight: int = 1,
        *,
        address: Any = None,
        u_threshold: int = 0,
        l_threshold: int = 0,
    ) -> int:
        """Add a backend and return its new id. Where it goes depends on ``insertion``."""
        w = _validate.weight(weight)
        upper = _validate.threshold(u_threshold, "u_threshold")
        lower = _validate.threshold(l_threshold, "l_threshold")
        addr, port = (None, 0) if address is None else parse_endpoint(address, "address")
        if self.insertion == "address" and addr is None:
            raise InvalidArgument("this pool orders backends by address: add() needs address=")
        slot = self._insert_slot(addr, port)
        self.reserve(self.n_ids + 1)
        b = int(_table.insert_backend(self.table, slot, w, upper, lower))
        self.addresses.append(addr)
        self.ports.append(port)
        if self.insertion == "address":
            self._keys.insert(slot, endpoint_string(addr, port))
        self._notify(EV_ADD, slot)
        return b

    def _insert_slot(self, addr: Any, port: int) -> int:
        if self.insertion == "head":
            return 0
        if self.insertion == "tail":
            return len(self)
        # kube-proxy sorts endpoints as plain strings ("10.0.2.31:80" < "10.0.2.9:80"): the new
        # one goes before the first listed string that is greater (after equal ones).
        key = endpoint_string(addr, port)
        if self._keys_sorted:
            return bisect.bisect_right(self._keys, key)
        return next((s for s, other in enumerate(self._keys) if key < other), len(self._keys))

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` backend ids (so compiled code can add backends).

        Listeners get an ``EV_RESIZE`` event, after which they must re-read
        ``table`` and resize any per-id state.
        """
        capacity = _validate.count(capacity, "capacity")
        if capacity <= self.table.shape[1]:
            return
        self.table = _table.grown(self.table, max(capacity, 2 * self.table.shape[1]))
        self._notify(EV_RESIZE, 0)

    @property
    def capacity(self) -> int:
        """Number of backend ids the table has room for."""
        return int(self.table.shape[1])

    def remove(self, backend: int) -> None:
        """Unlink a backend. Its open connections can still be released."""
        b = self.check_id(backend)
        slot = int(_table.remove_backend(self.table, b))
        if self.insertion == "address":
            del self._keys[slot]
        self._notify(EV_DELETE, slot)

    def adopt_added(self, endpoints: Sequence[tuple[Any, int]]) -> None:
        """Record the addresses of backends that compiled code (the simulator) added to the table.

        The table already holds them; this keeps the Python-side address
        lists (and the endpoint order used by ``insertion="address"``) in step.
        """
        for addr, port in endpoints:
            self.addresses.append(addr)
            self.ports.append(port)
        if self.insertion == "address":  # removals happened in the table too: re-read the list order
            self._keys = [endpoint_string(self.addresses[b], self.ports[b]) for b in self.list_order.tolist()]

    # -- edits -----------------------------------------------------------------------
    def set_weight(self, backend: int, weight: int) -> None:
        """Edit one backend's weight (``ipvsadm -e``); 0 quiesces it.

        Like IPVS, the scheduler's update hook runs even when the weight does
        not change (WRR then resets its cursor).
        """
        b = self.check_id(backend)
        w = _validate.weight(weight)
        self._notify(EV_UPDATE, int(_table.set_weight(self.table, b, w)))

    def set_weights(self, weights: Sequence[int] | np.ndarray) -> None:
        """Set every weight at once: one entry per backend id (see :attr:`weights`).

        One edit is applied per weight that changed, in id order. Entries of
        removed backends must equal their current value.
        """
        w = _validate.weights(weights)
        if len(w) != self.n_ids:
            raise InvalidArgument(f"weights has {len(w)} entries but the pool has {self.n_ids} backend ids")
        changed = np.flatnonzero(w != self.weights)
        listed = self.available
        for b in changed:
            if not listed[b]:
                raise UnknownBackend(f"weights[{b}]: backend {b} was removed; its weight cannot change")
        for b in changed:
            self._notify(EV_UPDATE, int(_table.set_weight(self.table, int(b), int(w[b]))))

    def set_thresholds(self, backend: int, upper: int = 0, lower: int = 0) -> None:
        """Set a backend's connection thresholds (0 = none), as ``ipvsadm -e -x -y``.

        As in IPVS, the overload flag is cleared when the new upper threshold
        is 0 or larger than the old one; the update hook runs.
        """
        b = self.check_id(backend)
        u = _validate.threshold(upper, "upper")
        lo = _validate.threshold(lower, "lower")
        self._notify(EV_UPDATE, int(_table.set_thresholds(self.table, b, u, lo)))

    def fail(self, backend: int) -> None:
        """Take a backend out after a failed health check: weight 0 until :meth:`recover` restores it.

        Open connections continue; this models a checker that quiesces a
        failed backend rather than deleting it (keepalived's ``inhibit_on_failure``).
        """
        b = self.check_id(backend)
        if self.failed[b]:
            raise InvalidArgument(f"backend {b} has already failed")
        self._notify(EV_UPDATE, int(_table.fail_backend(self.table, b)))

    def recover(self, backend: int) -> None:
        """Restore the weight a backend had when it failed (its health check passes again)."""
        b = self.check_id(backend)
        if not self.failed[b]:
            raise InvalidArgument(f"backend {b} has not failed, so it cannot recover")
        self._notify(EV_UPDATE, int(_table.recover_backend(self.table, b)))

    # -- connection accounting ----------------------------------------------------------
    def release(self, backend: int, *, active: bool | None = None) -> None:
        """End one connection on ``backend`` (removed backends drain too).

        ``active`` says which counter it leaves; the default is the counter
        new connections join (see ``new_conns``).
        """
        b = self.check_id(backend, listed=False)
        if active is None:
            was_active = self.new_conns == "active"
        elif isinstance(active, (bool, np.bool_)):
            was_active = bool(active)
        else:
            raise InvalidArgumentType(f"active must be True, False or None, got {short(active)}")
        row, name = (ACTIVE, "active") if was_active else (INACTIVE, "inactive")
        if self.field(row, b) <= 0:
            raise InvalidArgument(f"backend {b} has no {name} connection to release")
        _table.unbind(self.table, b, was_active)
        self._counters_changed(b)

    def activate(self, backend: int) -> None:
        """Move one connection from inactive to active (TCP reached ESTABLISHED)."""
        b = self.check_id(backend, listed=False)
        if self.field(INACTIVE, b) <= 0:
            raise InvalidArgument(f"backend {b} has no inactive connection to activate")
        _table.activate(self.table, b)
        self._counters_changed(b)

    def deactivate(self, backend: int) -> None:
        """Move one connection from active to inactive (TCP FIN/RST)."""
        b = self.check_id(backend, listed=False)
        if self.field(ACTIVE, b) <= 0:
            raise InvalidArgument(f"backend {b} has no active connection to deactivate")
        _table.deactivate(self.table, b)
        self._counters_changed(b)

    def __repr__(self) -> str:
        ids = self.list_order.tolist()
        w = self.table[WEIGHT, : len(ids)].tolist()
        return f"Pool(list order={ids}, weights={w})"

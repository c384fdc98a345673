"""The backend pool: stable ids, list order, weights, counters and flags.

A :class:`Pool` owns the backend table of :mod:`lbalgo._table` and is the
only thing that edits it from Python. Schedulers subscribe to it and get one
call per change (add, delete, update), like IPVS's ``add_dest`` /
``del_dest`` / ``upd_dest`` hooks; several schedulers, or a simulation, can
share one pool.

Every method validates all of its input before it changes anything, so a
call that raises leaves the pool as it was.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import _table, _validate, addresses
from ._table import (
    ACTIVE,
    EV_ADD,
    EV_DELETE,
    EV_RESIZE,
    EV_UPDATE,
    F_AVAILABLE,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    L_THRESHOLD,
    LAST_WEIGHT,
    PERSIST,
    U_THRESHOLD,
    WEIGHT,
)
from .errors import UnknownBackend

#: Where ``add`` puts a new backend in the list.
INSERTIONS = ("head", "tail", "address")
NEW_CONNS = ("active", "inactive")

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
        and skipped by the schedulers until it drains (``spec/ipvs.md`` §0.4).
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
            raise ValueError(f"insertion must be one of {INSERTIONS}, got {insertion!r}")
        if new_conns not in NEW_CONNS:
            raise ValueError(f"new_conns must be one of {NEW_CONNS}, got {new_conns!r}")
        addrs, ports = self._parse_addresses(addresses, n)
        upper = self._parse_thresholds(u_thresholds, n, "u_thresholds")
        lower = self._parse_thresholds(l_thresholds, n, "l_thresholds")
        if insertion == "address" and n and addrs[0] is None:
            raise ValueError("insertion='address' needs an address for every backend")

        self.insertion = insertion
        self.new_conns = new_conns
        #: ``new_conns == "active"``, as the compiled drivers take it.
        self.as_active = new_conns == "active"
        self.table, self.order = _table.new_table(max(8, 2 * n))
        self.n_ids = n
        self.addresses: list[addresses.Address | None] = addrs
        self.ports: list[int] = ports
        self._listeners: list[Listener] = []
        self._counter_listeners: list[Callable[[int], None]] = []
        t = self.table
        t[:n, WEIGHT] = w
        t[:n, LAST_WEIGHT] = w
        t[:n, U_THRESHOLD] = upper
        t[:n, L_THRESHOLD] = lower
        t[:n, FLAGS] = F_AVAILABLE
        self.order[0] = n
        self.order[1 : n + 1] = np.arange(n)

    # -- construction helpers -------------------------------------------------
    @staticmethod
    def _parse_addresses(values: Sequence[Any] | None, n: int) -> tuple[list, list]:
        if values is None:
            return [None] * n, [0] * n
        values = list(values)
        if len(values) != n:
            raise ValueError(f"addresses has {len(values)} entries but there are {n} weights")
        parsed = [parse_endpoint(v, f"addresses[{i}]") for i, v in enumerate(values)]
        return [a for a, _ in parsed], [p for _, p in parsed]

    @staticmethod
    def _parse_thresholds(values: Sequence[int] | None, n: int, what: str) -> list[int]:
        if values is None:
            return [0] * n
        values = list(values)
        if len(values) != n:
            raise ValueError(f"{what} has {len(values)} entries but there are {n} weights")
        return [_validate.threshold(v, f"{what}[{i}]") for i, v in enumerate(values)]

    # -- listeners --------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(event, position)`` after every add, delete and update."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener`` (a wrapper that forwards events itself takes over)."""
        self._listeners.remove(listener)

    def subscribe_counters(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(backend)`` after every ``release``, ``activate`` and ``deactivate``.

        Schedulers that keep an index over the counters (``LC(index="tree")``)
        use it; picks are counted by compiled code, which the scheduler sees.
        """
        self._counter_listeners.append(listener)

    def _counters_moved(self, backend: int) -> None:
        for listener in self._counter_listeners:
            listener(backend)

    def _notify(self, event: int, pos: int) -> None:
        for listener in self._listeners:
            listener(event, pos)

    # -- read-only views (indexed by backend id) ----------------------------------
    def _column(self, col: int) -> np.ndarray:
        return _readonly(self.table[: self.n_ids, col])

    @property
    def weights(self) -> np.ndarray:
        """Weight per backend id (removed backends keep their last value)."""
        return self._column(WEIGHT)

    @property
    def active_conns(self) -> np.ndarray:
        """Active connections per backend id."""
        return self._column(ACTIVE)

    @property
    def inactive_conns(self) -> np.ndarray:
        """Inactive connections per backend id."""
        return self._column(INACTIVE)

    @property
    def persist_conns(self) -> np.ndarray:
        """Persistence templates per backend id."""
        return self._column(PERSIST)

    @property
    def available(self) -> np.ndarray:
        """True for backends in the list (IPVS ``IP_VS_DEST_F_AVAILABLE``)."""
        return (self.table[: self.n_ids, FLAGS] & F_AVAILABLE) != 0

    @property
    def removed(self) -> np.ndarray:
        """True for backends that were removed (their connections may still drain)."""
        return ~self.available

    @property
    def overloaded(self) -> np.ndarray:
        """True for backends over their upper connection threshold."""
        return (self.table[: self.n_ids, FLAGS] & F_OVERLOAD) != 0

    @property
    def list_order(self) -> np.ndarray:
        """Ids of the listed backends, in list order (the order ties are broken in)."""
        return _readonly(self.order[1 : self.order[0] + 1])

    def __len__(self) -> int:
        """Number of listed (not removed) backends."""
        return int(self.order[0])

    # -- checks -------------------------------------------------------------------
    def check_id(self, backend: Any, *, listed: bool = True) -> int:
        """Return ``backend`` as an int id, or raise if unknown (or removed, if ``listed``)."""
        if isinstance(backend, (bool, np.bool_)) or not isinstance(backend, (int, np.integer)):
            raise TypeError(f"backend id must be an integer, got {backend!r}")
        b = int(backend)
        if not 0 <= b < self.n_ids:
            raise UnknownBackend(f"no backend with id {b} (ids are 0..{self.n_ids - 1})")
        if listed and not self.table[b, FLAGS] & F_AVAILABLE:
            raise UnknownBackend(f"backend {b} was removed")
        return b

    def position(self, backend: int) -> int:
        """1-based list position of a listed backend."""
        return int(_table.position_of(self.order, self.check_id(backend)))

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
            raise ValueError("this pool orders backends by address: add() needs address=")
        pos = self._insert_position(addr, port)
        if self.n_ids == self.table.shape[0]:
            self.reserve(2 * self.n_ids)
        b = self.n_ids
        self.table[b] = 0
        self.table[b, WEIGHT] = w
        self.table[b, LAST_WEIGHT] = w
        self.table[b, U_THRESHOLD] = upper
        self.table[b, L_THRESHOLD] = lower
        self.table[b, FLAGS] = F_AVAILABLE
        self.addresses.append(addr)
        self.ports.append(port)
        self.n_ids += 1
        _table.list_insert(self.order, pos, b)
        self._notify(EV_ADD, pos)
        return b

    def _insert_position(self, addr: Any, port: int) -> int:
        n = int(self.order[0])
        if self.insertion == "head":
            return 1
        if self.insertion == "tail":
            return n + 1
        key = endpoint_string(addr, port)
        listed = self.order[1 : n + 1]
        # kube-proxy sorts endpoints as plain strings ("10.0.2.31:80" < "10.0.2.9:80").
        for p, other in enumerate(listed, start=1):
            if key < endpoint_string(self.addresses[other], self.ports[other]):
                return p
        return n + 1

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` backend ids (so compiled code can add backends).

        Listeners get an ``EV_RESIZE`` event, after which they must re-read
        ``table`` and ``order`` and resize any per-id state.
        """
        capacity = _validate.count(capacity, "capacity")
        if capacity <= self.table.shape[0]:
            return
        table, order = _table.new_table(capacity)
        table[: self.n_ids] = self.table[: self.n_ids]
        order[: len(self.order)] = self.order
        self.table, self.order = table, order
        self._notify(EV_RESIZE, 0)

    @property
    def capacity(self) -> int:
        """Number of backend ids the table has room for."""
        return int(self.table.shape[0])

    def remove(self, backend: int) -> None:
        """Unlink a backend. Its open connections can still be released."""
        b = self.check_id(backend)
        pos = int(_table.position_of(self.order, b))
        _table.list_remove(self.order, pos)
        self.table[b, FLAGS] &= ~F_AVAILABLE
        self._notify(EV_DELETE, pos)

    # -- edits -----------------------------------------------------------------------
    def set_weight(self, backend: int, weight: int) -> None:
        """Edit one backend's weight (``ipvsadm -e``); 0 quiesces it.

        Like IPVS, the scheduler's update hook runs even when the weight does
        not change (WRR then resets its cursor).
        """
        b = self.check_id(backend)
        w = _validate.weight(weight)
        self._apply_weight(b, w)

    def _apply_weight(self, b: int, w: int) -> None:
        self.table[b, WEIGHT] = w
        if w != 0:
            self.table[b, LAST_WEIGHT] = w
        self._notify(EV_UPDATE, int(_table.position_of(self.order, b)))

    def set_weights(self, weights: Sequence[int] | np.ndarray) -> None:
        """Set every weight at once: one entry per backend id (see :attr:`weights`).

        One edit is applied per weight that changed, in id order. Entries of
        removed backends must equal their current value.
        """
        w = _validate.weights(weights)
        if len(w) != self.n_ids:
            raise ValueError(f"weights has {len(w)} entries but the pool has {self.n_ids} backend ids")
        current = self.table[: self.n_ids, WEIGHT]
        changed = np.flatnonzero(w != current)
        for b in changed:
            if not self.table[b, FLAGS] & F_AVAILABLE:
                raise UnknownBackend(f"weights[{b}]: backend {b} was removed; its weight cannot change")
        for b in changed:
            self._apply_weight(int(b), int(w[b]))

    def set_thresholds(self, backend: int, upper: int = 0, lower: int = 0) -> None:
        """Set a backend's connection thresholds (0 = none), as ``ipvsadm -e -x -y``.

        As in IPVS, the overload flag is cleared when the new upper threshold
        is 0 or larger than the old one; the update hook runs.
        """
        b = self.check_id(backend)
        u = _validate.threshold(upper, "upper")
        lo = _validate.threshold(lower, "lower")
        old = self.table[b, U_THRESHOLD]
        self.table[b, U_THRESHOLD] = u
        self.table[b, L_THRESHOLD] = lo
        if u == 0 or u > old:
            self.table[b, FLAGS] &= ~F_OVERLOAD
        self._notify(EV_UPDATE, int(_table.position_of(self.order, b)))

    # -- connection accounting ----------------------------------------------------------
    def release(self, backend: int, *, active: bool | None = None) -> None:
        """End one connection on ``backend`` (removed backends drain too).

        ``active`` says which counter it leaves; the default is the counter
        new connections join (see ``new_conns``).
        """
        b = self.check_id(backend, listed=False)
        was_active = (self.new_conns == "active") if active is None else bool(active)
        col, name = (ACTIVE, "active") if was_active else (INACTIVE, "inactive")
        if self.table[b, col] <= 0:
            raise ValueError(f"backend {b} has no {name} connection to release")
        _table.unbind(self.table, b, was_active)
        self._counters_moved(b)

    def activate(self, backend: int) -> None:
        """Move one connection from inactive to active (TCP reached ESTABLISHED)."""
        b = self.check_id(backend, listed=False)
        if self.table[b, INACTIVE] <= 0:
            raise ValueError(f"backend {b} has no inactive connection to activate")
        self.table[b, INACTIVE] -= 1
        self.table[b, ACTIVE] += 1
        self._counters_moved(b)

    def deactivate(self, backend: int) -> None:
        """Move one connection from active to inactive (TCP FIN/RST; §0.3)."""
        b = self.check_id(backend, listed=False)
        if self.table[b, ACTIVE] <= 0:
            raise ValueError(f"backend {b} has no active connection to deactivate")
        self.table[b, ACTIVE] -= 1
        self.table[b, INACTIVE] += 1
        self._counters_moved(b)

    def __repr__(self) -> str:
        ids = self.list_order.tolist()
        w = [int(self.table[b, WEIGHT]) for b in ids]
        return f"Pool(list order={ids}, weights={w})"


def parse_endpoint(value: Any, what: str) -> tuple[addresses.Address, int]:
    """Parse ``"ip"``, ``"ip:port"``, ``"[v6]:port"``, an int or an ipaddress object."""
    if isinstance(value, str):
        text = value.strip()
        port_text = None
        if text.startswith("["):
            host, sep, rest = text[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise ValueError(f"{what} {value!r} is not a valid [IPv6]:port endpoint")
            text, port_text = host, (rest[1:] if rest else None)
        elif text.count(":") == 1:
            text, port_text = text.split(":")
        port = 0
        if port_text is not None:
            if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
                raise ValueError(f"{what} {value!r} has an invalid port {port_text!r}")
            port = int(port_text)
        return addresses.parse(text, what), port
    return addresses.parse(value, what), 0


def endpoint_string(addr: Any, port: int) -> str:
    """kube-proxy's ``"ip:port"`` form (IPv6 in brackets), used for sorting."""
    if addr is None:
        return ""
    host = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"{host}:{port}"


def as_pool(weights: Iterable[int] | None, pool: Pool | None, **options: Any) -> Pool:
    """Return ``pool``, or a new :class:`Pool` built from ``weights`` and ``options``."""
    if pool is not None:
        if weights is not None:
            raise ValueError("give either weights= or pool=, not both")
        if not isinstance(pool, Pool):
            raise TypeError(f"pool must be an lbalgo.Pool, got {type(pool).__name__}")
        extra = {k: v for k, v in options.items() if v is not None}
        if extra:
            raise ValueError(f"{sorted(extra)} belong to the shared pool; set them when building it")
        return pool
    return Pool(weights, **{k: v for k, v in options.items() if v is not None})

"""The one :class:`Scheduler` interface and the compiled drivers behind it.

Each algorithm module supplies, as kernels (see :mod:`lbalgo._jit`):

``pick(table, order, state, key, now) -> backend id or -1``
    The decision, IPVS's ``schedule``. It reads the backend table, may update
    its own ``state`` (a cursor, a cache, a random generator) and never
    touches the connection counters.
``changed(table, order, state, event, pos)``
    The pool-change hook (IPVS ``add_dest`` / ``del_dest`` / ``upd_dest``):
    rebuilds or resets ``state`` exactly when the modelled system does.

plus two three-line wrappers that bind its ``pick`` into the shared drivers
below, so that a call from Python reaches compiled code in one hop (Numba
cannot receive a function argument from Python cheaply). The drivers do the
connection accounting: one new connection is counted on every chosen backend.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from .. import _validate, addresses
from .._jit import Kernel, entry_point, kernel
from .._table import EV_RESIZE, bind
from ..errors import NoBackendAvailable
from ..pool import Pool

_NO_KEYS = np.zeros(0, dtype=np.int64)
_NO_TIMES = np.zeros(0, dtype=np.float64)


@kernel(inline="always")
def schedule_one(pick, table, order, state, key, now, as_active):
    """Pick a backend for one new connection and count it there (-1: none)."""
    backend = pick(table, order, state, key, now)
    if backend >= 0:
        bind(table, backend, as_active)
    return backend


@kernel(inline="always")
def schedule_batch(pick, table, order, state, keys, times, now, as_active, out):
    """Schedule ``len(out)`` new connections in order, writing the ids to ``out``.

    ``keys`` and ``times`` are either empty (key 0 and time ``now`` for every
    connection) or as long as ``out``.
    """
    have_keys = keys.shape[0] > 0
    have_times = times.shape[0] > 0
    for i in range(out.shape[0]):
        key = keys[i] if have_keys else 0
        t = times[i] if have_times else now
        backend = pick(table, order, state, key, t)
        if backend >= 0:
            bind(table, backend, as_active)
        out[i] = backend


@kernel(refcount=False)
def no_touch(table, order, state, backend):
    """The default ``touch`` hook: the scheduler keeps no index over the counters."""
    return None


@kernel(refcount=False)
def no_change(table, order, state, event, pos):
    """The ``changed`` hook of stateless schedulers: IPVS lc, wlc, sed, nq, fo, ovf have none."""
    return None


class Scheduler:
    """Base class of every lbalgo scheduler.

    Parameters
    ----------
    weights : sequence of int, optional
        One weight per backend (0..65535), in the list order of the modelled
        system; backend ids are 0..n-1. Omit it for an empty service.
    pool : Pool, optional
        A shared :class:`~lbalgo.Pool` instead of ``weights``.
    seed : int, optional
        Seed for every random choice the scheduler makes (default 0).
    addresses, u_thresholds, l_thresholds, new_conns
        Passed to the :class:`~lbalgo.Pool` built from ``weights``.
    """

    #: Short name, as in IPVS (``ipvsadm -s wrr``); the registry key.
    name: ClassVar[str] = ""
    #: One line for ``lbalgo list`` and reports.
    summary: ClassVar[str] = ""
    #: The real system whose behaviour this reproduces.
    source: ClassVar[str] = ""
    #: Where a new backend enters the list (see :class:`~lbalgo.Pool`).
    insertion: ClassVar[str] = "head"
    #: Whether ``pick`` needs a key (client or destination address).
    keyed: ClassVar[bool] = False
    #: Whether decisions depend on a random generator (and so on ``seed``).
    randomized: ClassVar[bool] = False

    _pick: ClassVar[Kernel]
    _changed: ClassVar[Kernel]
    #: ``touch(table, order, state, backend)``: compiled loops that move a
    #: backend's counters themselves (the simulator's releases) call it after
    #: each move, so schedulers with an index over the counters stay exact.
    _touch: ClassVar[Kernel] = no_touch
    _schedule_one: ClassVar[Kernel]
    _schedule_batch: ClassVar[Kernel]

    def __init__(
        self,
        weights: Sequence[int] | np.ndarray | None = None,
        *,
        pool: Pool | None = None,
        seed: int | None = None,
        addresses: Sequence[Any] | None = None,
        u_thresholds: Sequence[int] | None = None,
        l_thresholds: Sequence[int] | None = None,
        new_conns: str | None = None,
    ) -> None:
        if pool is None:
            insertion = self.insertion
            if insertion == "address" and addresses is None:
                insertion = "tail"  # no addresses to sort by: keep the given order, append
            pool = Pool(
                weights,
                addresses=addresses,
                u_thresholds=u_thresholds,
                l_thresholds=l_thresholds,
                insertion=insertion,
                new_conns=new_conns or "active",
            )
        else:
            if not isinstance(pool, Pool):
                raise TypeError(f"pool must be an lbalgo.Pool, got {type(pool).__name__}")
            given = [n for n, v in [("weights", weights), ("addresses", addresses),
                                    ("u_thresholds", u_thresholds), ("l_thresholds", l_thresholds),
                                    ("new_conns", new_conns)] if v is not None]
            if given:
                raise ValueError(f"{', '.join(given)} belong to the shared pool: set them when building it")
        self.seed = _validate.seed(seed)
        self.pool = pool
        self.state = self._new_state()
        self._one: Any = None
        self._batch: Any = None
        pool.subscribe(self._pool_changed)

    # -- what subclasses provide ----------------------------------------------------
    def _new_state(self) -> Any:
        """Return the algorithm's state (an array or a tuple of arrays) for the current pool."""
        raise NotImplementedError(type(self).__name__)

    def _resized_state(self, capacity: int) -> Any:
        """Return the state for a table of ``capacity`` rows (override if it holds per-id arrays)."""
        return self.state

    def _pool_changed(self, event: int, pos: int) -> None:
        if event == EV_RESIZE:
            self.state = self._resized_state(self.pool.capacity)
            return
        self._changed(self.pool.table, self.pool.order, self.state, event, pos)

    # -- scheduling --------------------------------------------------------------------
    def _compiled(self) -> tuple[Any, Any]:
        if self._batch is None:
            self._batch = self._schedule_batch.compiled
        return self._one, self._batch

    def _schedule(self, key: int, now: float) -> int:
        """Schedule one connection with converted arguments; raise when nothing qualifies."""
        pool = self.pool
        one = self._one
        if one is None:  # first pick: compile (or load) through the dispatcher, then skip dispatch
            dispatcher = self._schedule_one.compiled
            backend = dispatcher(pool.table, pool.order, self.state, key, now, pool.as_active)
            self._one = entry_point(dispatcher)
        else:
            backend = one(pool.table, pool.order, self.state, key, now, pool.as_active)
        if backend < 0:
            raise NoBackendAvailable(f"{self._label()}: no backend available ({self._why_none()})")
        return int(backend)

    def _label(self) -> str:
        return self.name

    def _key(self, key: Any) -> int:
        """Convert one key for the kernel (override to keep full IPv6 identity).

        The default is the 32-bit value IPVS hashes: IPv4 as is, IPv6 folded.
        """
        if key is None:
            if self.keyed:
                raise TypeError(f"{type(self).__name__}.pick() needs key= (a client or destination address)")
            return 0
        if type(key) is int and 0 <= key < 4294967296:
            return key
        return addresses.fold32(addresses.parse(key, "key"))

    def _keys(self, keys: Any) -> np.ndarray:
        """Convert a batch of keys for the kernel (see :func:`key_array`)."""
        return key_array(keys)

    def pick(self, key: Any = None, now: float = 0.0) -> int:
        """Schedule one new connection and return its backend id.

        Parameters
        ----------
        key : int, str or ipaddress object, optional
            Client address (SH, affinity) or destination address (DH, LBLC).
            Ignored by schedulers that do not hash.
        now : float
            Time in seconds, for time-dependent state (expiry, timeouts).

        Raises
        ------
        NoBackendAvailable
            When no backend qualifies (IPVS: "no destination available").
        """
        if type(now) is not float or not -1e300 < now < 1e300:  # also catches NaN and inf
            now = _validate.time(now)
        if key is None and not self.keyed:
            return self._schedule(0, now)
        return self._schedule(self._key(key), now)

    def _why_none(self) -> str:
        listed = self.pool.list_order
        if len(listed) == 0:
            return "the pool is empty"
        w = self.pool.weights[listed]
        if not w.any():
            return "every backend has weight 0"
        if self.pool.overloaded[listed].all():
            return "every backend is overloaded"
        return "no backend qualifies"

    def pick_many(self, keys_or_count: Any, now: Any = None) -> np.ndarray:
        """Schedule many new connections in one compiled loop.

        Parameters
        ----------
        keys_or_count : int or array of keys
            A number of connections, or one key per connection (IPv4
            addresses as integers, e.g. a ``uint32`` array).
        now : float or array of float, optional
            One time for all, or one per connection (default 0.0).

        Returns
        -------
        numpy.ndarray of int64
            The backend id per connection, ``-1`` where none was available.
        """
        if isinstance(keys_or_count, numbers.Integral) and not isinstance(keys_or_count, (bool, np.bool_)):
            n = _validate.count(keys_or_count, "count")
            if self.keyed:
                raise TypeError(f"{type(self).__name__}.pick_many() needs an array of keys, not a count")
            keys = _NO_KEYS
        else:
            keys = self._keys(keys_or_count)
            n = len(keys)
        times, t = _times(now, n)
        out = np.empty(n, dtype=np.int64)
        batch = self._batch or self._compiled()[1]
        pool = self.pool
        batch(pool.table, pool.order, self.state, keys, times, t, pool.as_active, out)
        return out

    # -- the pool, through the scheduler --------------------------------------------
    def release(self, backend: int, *, active: bool | None = None) -> None:
        """One connection on ``backend`` ended (see :meth:`Pool.release`)."""
        self.pool.release(backend, active=active)

    def set_weight(self, backend: int, weight: int) -> None:
        """Edit one backend's weight; 0 quiesces it (see :meth:`Pool.set_weight`)."""
        self.pool.set_weight(backend, weight)

    def set_weights(self, weights: Sequence[int] | np.ndarray) -> None:
        """Set all weights, one per backend id (see :meth:`Pool.set_weights`)."""
        self.pool.set_weights(weights)

    def add_backend(self, weight: int = 1, **options: Any) -> int:
        """Add a backend; returns its id (see :meth:`Pool.add`)."""
        return self.pool.add(weight, **options)

    def remove_backend(self, backend: int) -> None:
        """Remove a backend; its connections can still be released."""
        self.pool.remove(backend)

    @property
    def weights(self) -> np.ndarray:
        """Weight per backend id (read-only)."""
        return self.pool.weights

    @property
    def active_conns(self) -> np.ndarray:
        """Active connections per backend id (read-only)."""
        return self.pool.active_conns

    @property
    def inactive_conns(self) -> np.ndarray:
        """Inactive connections per backend id (read-only)."""
        return self.pool.inactive_conns

    @property
    def list_order(self) -> np.ndarray:
        """Listed backend ids in list order (read-only)."""
        return self.pool.list_order

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        seed = f", seed={self.seed}" if self.randomized else ""
        return f"{type(self).__name__}(weights={w}{seed})"


def key_array(keys: Any) -> np.ndarray:
    """Return a batch of keys as the contiguous int64 array of 32-bit values IPVS hashes.

    Accepted layouts: a 1-D integer array of IPv4 addresses (host order, e.g.
    ``uint32``); a 2-D ``(n, 4)`` integer array of IPv6 addresses as four
    32-bit words, most significant first (folded by XOR, as IPVS does); or a
    sequence of address strings / ``ipaddress`` objects.
    """
    arr = np.asarray(keys)
    if arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
            raise ValueError("IPv6 keys as (n, 4) words must hold values in 0..2**32-1")
        words = arr.astype(np.int64)
        return np.ascontiguousarray(words[:, 0] ^ words[:, 1] ^ words[:, 2] ^ words[:, 3])
    if arr.ndim != 1:
        raise ValueError(f"keys must be a 1-D array (IPv4) or an (n, 4) array (IPv6 words), got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind in "OU" and arr.size:
            return np.array([addresses.fold32(addresses.parse(k, f"keys[{i}]")) for i, k in enumerate(arr.tolist())],
                            dtype=np.int64)
        if arr.size == 0:
            return _NO_KEYS
        raise TypeError(f"keys must be integers (IPv4 addresses) or address strings, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        i = int(np.flatnonzero((arr < 0) | (arr > 0xFFFFFFFF))[0])
        raise ValueError(f"keys[{i}] = {arr[i]} is not an IPv4 address (0..2**32-1)")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _times(now: Any, n: int) -> tuple[np.ndarray, float]:
    if now is None:
        return _NO_TIMES, 0.0
    if np.ndim(now) == 0:
        return _NO_TIMES, _validate.time(now)
    times = np.ascontiguousarray(now, dtype=np.float64)
    if times.ndim != 1 or len(times) != n:
        raise ValueError(f"now has shape {times.shape} but there are {n} connections")
    if not np.isfinite(times).all():
        raise ValueError("now contains NaN or infinite times")
    return times, 0.0


class StatelessScheduler(Scheduler):
    """A scheduler whose decision depends only on the backend table (no hooks, no state)."""

    _changed = no_change

    def _new_state(self) -> np.ndarray:
        return np.zeros(1, dtype=np.int64)  # unused; kernels take a state argument all the same

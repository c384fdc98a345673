"""The one :class:`Scheduler` interface, and the kernel interface every algorithm implements.

An algorithm supplies two kernels with the uniform signatures of
:mod:`lbalgo._jit` (see ``docs/developing.md``)::

    schedule(table, state, fstate, keys, times, out, first, last, mode) -> int
        Decide connections first .. last-1 in order: connection i has key
        item(keys, i) and time item(times, i) (a one-element array applies to
        every connection); write each backend id (-1: none) to out[i] and
        count it with account(table, backend, mode). Return the last backend.
        The decision is IPVS's ``schedule``: it reads the table and may
        update the algorithm's own ``state`` / ``fstate``.
    changed(table, state, fstate, event, where)
        The pool-change hook (IPVS ``add_dest`` / ``del_dest`` /
        ``upd_dest``): rebuild or reset the state exactly when the modelled
        system does. Schedulers with ``watches_counters`` also hear
        EV_COUNTERS for every counter change made outside their own schedule.

Because the signatures are uniform, the simulator's event loop and the
persistence layer are compiled once and receive these kernels as function
pointers; a scheduler costs only its own two kernels. ``state`` is one int64
array and ``fstate`` one float64 array: an algorithm lays its fields out in
them by name (module constants), and larger structures as regions.
"""

from __future__ import annotations

import copy as _copy
import functools
import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from .. import _validate, addresses
from .._jit import Kernel, kernel
from .._table import EV_RESIZE, F_OVERLOAD, FLAGS, HEADER, LISTED, WEIGHT
from ..errors import InvalidArgument, InvalidArgumentType, LbalgoError, NoBackendAvailable
from ..pool import Pool

_NO_KEY = np.zeros(1, dtype=np.int64)
_NO_FLOATS = np.zeros(0, dtype=np.float64)


@kernel(signature="changed")
def no_change(table, state, fstate, event, where):
    """Do nothing: the ``changed`` hook of schedulers without derived state (lc, wlc, sed, nq, ...)."""
    return None


def empty_state() -> tuple[np.ndarray, np.ndarray]:
    """``(state, fstate)`` of a scheduler that keeps nothing (its kernels still receive both)."""
    return np.zeros(1, dtype=np.int64), _NO_FLOATS


def _policy_error(e: Exception, scheduler: Any) -> Exception:
    """Return ``e`` itself if it is a :class:`LbalgoError`, else the policy's class for it.

    The new exception's message names the scheduler.
    """
    if isinstance(e, LbalgoError):
        return e
    kind = InvalidArgumentType if isinstance(e, TypeError) else InvalidArgument
    return kind(f"{type(scheduler).__name__}: {' '.join(str(e).split())}")


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
    #: The family it belongs to in ``lbalgo list`` (the system it comes from).
    family: ClassVar[str] = "Linux IPVS"
    #: Where a new backend enters the list (see :class:`~lbalgo.Pool`).
    insertion: ClassVar[str] = "head"
    #: Whether ``pick`` needs a key (client or destination address).
    keyed: ClassVar[bool] = False
    #: Whether the key is the destination address (dh, lblc, lblcr) rather than the client's.
    destination_keyed: ClassVar[bool] = False
    #: Whether a decision walks the whole list (O(n) per connection), as lc and wlc do.
    scans_pool: ClassVar[bool] = False
    #: Whether decisions depend on a random generator (and so on ``seed``).
    randomized: ClassVar[bool] = False
    #: Whether ``changed`` must hear EV_COUNTERS (an index over the counters).
    watches_counters: ClassVar[bool] = False
    #: Constructor options ``compare`` uses unless the scenario sets them: in a simulated
    #: workload every key is a client (or destination) address.
    simulation_options: ClassVar[dict[str, Any]] = {}

    _schedule: ClassVar[Kernel]
    _changed: ClassVar[Kernel] = no_change

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
                raise InvalidArgumentType(f"pool must be an lbalgo.Pool, got {type(pool).__name__}")
            given = [n for n, v in [("weights", weights), ("addresses", addresses),
                                    ("u_thresholds", u_thresholds), ("l_thresholds", l_thresholds),
                                    ("new_conns", new_conns)] if v is not None]
            if given:
                raise InvalidArgument(f"{', '.join(given)} belong to the shared pool: set them when building "
                                      "it")
        self.seed = _validate.seed(seed)
        self.pool = pool
        self.state, self.fstate = self._new_state()
        self._new_one_arrays()
        pool.subscribe(self._pool_changed, counters=self.watches_counters)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Keep every scheduler's constructor under the exception policy (``docs/limits.md``).

        A ``ValueError`` or ``TypeError`` that a subclass's ``__init__`` lets
        escape while checking its options becomes :class:`InvalidArgument` /
        :class:`InvalidArgumentType` (still a ``ValueError`` / ``TypeError``),
        named after the class. A call with an unknown keyword stays Python's
        own ``TypeError``.
        """
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_policy", False):
            return

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **options: Any) -> None:
            try:
                init(self, *args, **options)
            except LbalgoError:
                raise
            except (ValueError, TypeError) as e:
                tb = e.__traceback__
                if isinstance(e, TypeError) and tb is not None and tb.tb_next is None:
                    raise  # the call itself: an unknown keyword, a missing argument
                raise _policy_error(e, self) from e

        __init__._policy = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]

    # -- what subclasses provide ----------------------------------------------------
    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(state, fstate)`` for the current pool (run the hook's rebuild if it has one)."""
        raise NotImplementedError(type(self).__name__)

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the state for a table of ``capacity`` ids (override if it holds per-id arrays)."""
        return self.state, self.fstate

    def _pool_changed(self, event: int, where: int) -> None:
        if event == EV_RESIZE:
            self.state, self.fstate = self._resized_state(self.pool.capacity)
            return
        self._changed.entry(self.pool.table, self.state, self.fstate, event, where)

    def reserve(self, picks: int) -> None:
        """Make room for ``picks`` more decisions by compiled callers (the simulator).

        Schedulers whose decisions add state (a cache entry per new
        destination, as LBLC) grow it here; ``pick`` and ``pick_many`` reserve
        on their own. The default has nothing to grow.
        """
        _validate.count(picks, "picks")

    def setup_delays(self, n: int) -> np.ndarray | None:
        """Extra seconds each of the last ``n`` simulated connections waited before it was set up.

        ``None`` (the default): none. A scheduler whose data plane retries
        failed dials (kube-proxy's userspace mode) returns one delay per
        connection; :func:`lbalgo.simulate` adds them to the trace
        (``Trace.setup``), and so to every latency it reports.
        """
        return None

    def detached(self) -> Scheduler:
        """Return an independent copy on a copy of the pool, for what-if decisions that leave this alone."""
        clone = _copy.copy(self)
        pool = self.pool.copy()
        clone.pool = pool
        clone.state = self.state.copy()
        clone.fstate = self.fstate.copy()
        clone._new_one_arrays()
        clone._detach_extra(self)
        pool.subscribe(clone._pool_changed, counters=clone.watches_counters)
        return clone

    def _new_one_arrays(self) -> None:
        """Allocate the one-element key, time and result arrays of :meth:`pick` (and their last values)."""
        self._one_key = np.zeros(1, dtype=np.int64)
        self._one_time = np.zeros(1, dtype=np.float64)
        self._one_out = np.zeros(1, dtype=np.int64)
        self._one_last = [0, 0.0]

    def _detach_extra(self, original: Scheduler) -> None:
        """Copy any further mutable attributes a subclass holds (called by :meth:`detached`)."""

    # -- scheduling --------------------------------------------------------------------
    def _schedule_one(self, key: int, now: float) -> int:
        """Schedule one connection with converted arguments; raise when nothing qualifies."""
        # Writing a NumPy element costs ~40 ns from Python: skip the ones that did not change.
        if key != self._one_last[0]:
            self._one_key[0] = key
            self._one_last[0] = key
        if now != self._one_last[1]:
            self._one_time[0] = now
            self._one_last[1] = now
        pool = self.pool
        backend = self._schedule.entry(pool.table, self.state, self.fstate, self._one_key, self._one_time,
                                       self._one_out, 0, 1, pool.count_mode)
        if backend < 0:
            raise NoBackendAvailable(f"{self._label()}: no backend available ({self._why_none()})")
        return backend

    def _label(self) -> str:
        return self.name

    def _key(self, key: Any) -> int:
        """Convert one key for the kernel (override to keep full IPv6 identity).

        The default is the 32-bit value IPVS hashes: IPv4 as is, IPv6 folded.
        """
        if key is None:
            if self.keyed:
                raise InvalidArgumentType(f"{type(self).__name__}.pick() needs key= (a client or destination "
                                          "address)")
            return 0
        if type(key) is int and 0 <= key < 4294967296:
            return key
        return addresses.fold32(addresses.parse(key, "key"))

    def _keys(self, keys: Any) -> np.ndarray:
        """Convert a batch of keys for one kernel call (see :func:`lbalgo.addresses.key_array`).

        The result may be the per-thread buffer of :func:`lbalgo.addresses.int64_keys`:
        it is valid until the next conversion on this thread, so nothing may keep it.
        """
        return addresses.key_array(keys, reuse=True)

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
            return self._schedule_one(0, now)
        try:
            k = self._key(key)
        except LbalgoError:
            raise
        except (ValueError, TypeError) as e:  # a subclass's own key check: under the exception policy
            raise _policy_error(e, self) from None
        return self._schedule_one(k, now)

    def _why_none(self) -> str:
        table = self.pool.table
        n = int(table[HEADER, LISTED])
        if n == 0:
            return "the pool is empty"
        if not table[WEIGHT, :n].any():
            return "every backend has weight 0"
        if (table[FLAGS, :n] & F_OVERLOAD).all():
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
                raise InvalidArgumentType(f"{type(self).__name__}.pick_many() needs an array of keys, not a "
                                          "count")
            keys = _NO_KEY
        else:
            try:
                keys = self._keys(_validate.key_batch(keys_or_count))
            except LbalgoError:
                raise
            except (ValueError, TypeError) as e:  # a subclass's own key conversion: under the policy
                raise _policy_error(e, self) from None
            n = len(keys)
        times = _times(now, n)
        out = np.empty(n, dtype=np.int64)
        if n:
            self._run(keys, times, out)
        return out

    def _run(self, keys: np.ndarray, times: np.ndarray, out: np.ndarray) -> None:
        """Schedule ``len(out)`` connections (keys and times checked, one-element arrays broadcast)."""
        pool = self.pool
        self._schedule.entry(pool.table, self.state, self.fstate, keys, times, out, 0, len(out),
                             pool.count_mode)

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
        w = self.pool.table[WEIGHT, : len(self.pool)].tolist()
        seed = f", seed={self.seed}" if self.randomized else ""
        return f"{type(self).__name__}(weights={w}{seed})"


#: Re-exported for code that imported it from here.
key_array = addresses.key_array


def _times(now: Any, n: int) -> np.ndarray:
    """Return the ``times`` argument of a schedule call: one time for all (one element) or one each."""
    if now is None:
        return np.zeros(1, dtype=np.float64)
    if np.ndim(now) == 0:
        return np.array([_validate.time(now)], dtype=np.float64)
    times = np.ascontiguousarray(now, dtype=np.float64)
    if times.ndim != 1 or len(times) != n:
        raise InvalidArgument(f"now has shape {times.shape} but there are {n} connections")
    if not np.isfinite(times).all():
        raise InvalidArgument("now contains NaN or infinite times")
    return times


class StatelessScheduler(Scheduler):
    """A scheduler whose decision depends only on the backend table (no hooks, no state)."""

    _changed = no_change

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        return empty_state()

"""Disruption: how many keys a pool change moves to another backend.

Given the same key set scheduled by two key-based schedulers ``before`` and
``after`` (typically the same configuration before and after one change),
:func:`disruption` reports

``fraction``
    the share of keys whose backend differs between the two;
``minimum``
    the share that *had* to move: keys whose ``before`` backend cannot take
    them in ``after`` (removed, weight 0 or overloaded there). A perfectly
    consistent hash moves exactly these; ``fraction - minimum`` is the
    avoidable part.

Backends are compared by id, so both schedulers must number backends the
same way (build ``after`` like ``before``, then apply the change, or pass a
copy).

How decisions are taken without disturbing anything: a scheduler with a
``lookup_many(keys)`` method (sh, dh, mh) answers with a pure lookup, the
pick kernel run without the connection accounting. For any other keyed
scheduler the keys are scheduled with ``pick_many`` on a detached copy (its
pool table, list order and state arrays copied, no listeners), so the
original's counters and state are untouched; the copy counts each key as a
new connection, in order, as the real scheduler would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidArgument, InvalidArgumentType, short


@dataclass(frozen=True)
class Disruption:
    """Result of :func:`disruption`.

    Attributes
    ----------
    n_keys : int
        Keys compared.
    moved : int
        Keys whose backend changed (including to or from "none", -1).
    forced : int
        Keys whose ``before`` backend is unavailable in ``after``.
    before, after : numpy.ndarray
        The backend id per key in each (-1: none).
    """

    n_keys: int
    moved: int
    forced: int
    before: np.ndarray = field(repr=False, compare=False)
    after: np.ndarray = field(repr=False, compare=False)

    @property
    def fraction(self) -> float:
        """Share of keys whose backend changed."""
        return self.moved / self.n_keys if self.n_keys else 0.0

    @property
    def minimum(self) -> float:
        """Share of keys that had to move (their backend is gone or unavailable)."""
        return self.forced / self.n_keys if self.n_keys else 0.0

    @property
    def excess(self) -> float:
        """``fraction - minimum``: keys moved although their backend could still serve them."""
        return self.fraction - self.minimum

    def __str__(self) -> str:
        return (f"{self.moved} of {self.n_keys} keys moved ({self.fraction:.2%}); "
                f"minimum {self.minimum:.2%}, excess {self.excess:.2%}")


def decisions(scheduler: Any, keys: Any, *, ports: Any = None) -> np.ndarray:
    """Return the backend id ``scheduler`` gives each key (-1: none), leaving it untouched."""
    _check(scheduler, "scheduler")
    lookup = getattr(scheduler, "lookup_many", None)
    if lookup is not None:
        return lookup(keys) if ports is None else lookup(keys, ports=ports)
    if ports is not None:
        raise InvalidArgumentType(f"{type(scheduler).__name__} takes no client ports")
    return detached_copy(scheduler).pick_many(keys)


def disruption(before: Any, after: Any, keys: Any, *, ports: Any = None) -> Disruption:
    """Compare the backend of every key in two key-based schedulers.

    Parameters
    ----------
    before, after : Scheduler
        Keyed schedulers (``keyed = True``) with the same backend ids.
    keys : array or sequence
        The keys (client or destination addresses), in any form the
        schedulers accept.
    ports : array of int, optional
        Client source ports, for schedulers that take them (sh, mh).

    Returns
    -------
    Disruption
        ``fraction`` moved, ``minimum`` that had to move, and the decisions.

    Examples
    --------
    Remove one of four backends: Maglev hashing moves little more than the
    keys that must move, source hashing three times as many.

    >>> import lbalgo
    >>> clients = [f"10.0.{i // 256}.{i % 256}" for i in range(1000)]
    >>> for cls in (lbalgo.MH, lbalgo.SH):
    ...     before, after = cls(weights=[1, 1, 1, 1]), cls(weights=[1, 1, 1, 1])
    ...     after.remove_backend(3)
    ...     print(cls.name, lbalgo.disruption(before, after, clients))
    mh 266 of 1000 keys moved (26.60%); minimum 26.20%, excess 0.40%
    sh 745 of 1000 keys moved (74.50%); minimum 25.10%, excess 49.40%
    """
    _check(before, "before")
    _check(after, "after")
    a = decisions(before, keys, ports=ports)
    b = decisions(after, keys, ports=ports)
    if a.shape != b.shape:  # pragma: no cover - both convert the same keys
        raise InvalidArgument("before and after returned different numbers of decisions")
    pool = after.pool
    usable = pool.available & (pool.weights > 0) & ~pool.overloaded
    had = a >= 0
    lost = np.zeros(len(a), dtype=bool)
    inside = had & (a < pool.n_ids)
    lost[inside] = ~usable[a[inside]]
    lost |= had & (a >= pool.n_ids)
    return Disruption(n_keys=len(a), moved=int(np.count_nonzero(a != b)), forced=int(np.count_nonzero(lost)),
                      before=a, after=b)


def detached_copy(scheduler: Any) -> Any:
    """Return an independent copy of ``scheduler`` and its pool (:meth:`Scheduler.detached`)."""
    return scheduler.detached()


def _check(s: Any, what: str) -> None:
    if not hasattr(s, "pool") or not hasattr(s, "pick_many"):
        raise InvalidArgumentType(f"{what} must be an lbalgo scheduler, got {type(s).__name__}")
    if not getattr(s, "keyed", False):
        raise InvalidArgumentType(f"{what} ({type(s).__name__}) does not schedule by key: "
                        "disruption needs a keyed scheduler")


@dataclass(frozen=True)
class EventDisruption:
    """How one pool event moved returning clients (see :func:`event_disruption`)."""

    time: float
    clients: int  # clients seen in both windows
    moved: float  # share of them whose first backend after differs from their last before
    must_move: float  # share whose last backend before could not take them after (weight 0 / removed)

    @property
    def avoidable(self) -> float:
        """``moved - must_move``: moves a perfectly sticky scheduler would not make."""
        return self.moved - self.must_move


def event_disruption(arrival: Any, client: Any, backend: Any, time: float, window: int,
                     unavailable: Any = ()) -> EventDisruption:
    """Clients moved by a pool change at ``time``, measured on a simulated trace.

    Looks at the ``window`` scheduled connections just before ``time`` and the
    ``window`` just after (dropped connections, backend -1, are skipped). Of
    the clients present in both, ``moved`` is the share whose first backend
    after differs from their last backend before; ``must_move`` the share
    whose last backend before is in ``unavailable`` (the backends the change
    left with weight 0 or removed). NaN shares when no client is in both.
    """
    a = np.asarray(arrival, dtype=np.float64)
    c = np.asarray(client)
    b = np.asarray(backend)
    if not (a.shape == c.shape == b.shape) or a.ndim != 1:
        raise InvalidArgument("arrival, client and backend must be 1-D arrays of one length")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise InvalidArgument(f"window must be a whole number of connections >= 1, got {short(window)}")
    ok = np.flatnonzero(b >= 0)
    split = int(np.searchsorted(a[ok], time, side="left"))
    before = ok[max(0, split - window):split][::-1]  # newest first: np.unique keeps the first = last before
    after = ok[split:split + window]
    cb, first_b = np.unique(c[before], return_index=True)
    ca, first_a = np.unique(c[after], return_index=True)
    _, ib, ia = np.intersect1d(cb, ca, assume_unique=True, return_indices=True)
    n = ib.size
    if n == 0:
        return EventDisruption(float(time), 0, float("nan"), float("nan"))
    last_before = b[before[first_b[ib]]]
    first_after = b[after[first_a[ia]]]
    moved = float(np.mean(last_before != first_after))
    gone = np.isin(last_before, np.asarray(list(unavailable), dtype=np.int64))
    return EventDisruption(float(time), int(n), moved, float(np.mean(gone)))

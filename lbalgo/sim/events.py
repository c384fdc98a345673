"""Pool events scheduled at given times during a simulation.

Each event is applied by the same table kernel as the matching
:class:`~lbalgo.Pool` method (same edit, same list position, same scheduler
hook), inside the compiled loop. ``Fail`` and ``Recover`` model a health
checker that quiesces a failed backend rather than deleting it (keepalived's
``inhibit_on_failure``; :meth:`Pool.fail` / :meth:`Pool.recover`): ``Fail``
sets the weight to 0 and remembers the old one, ``Recover`` restores it.
Open connections on a failed backend continue (they are counted until they
end). A deleting health checker is ``Remove``.

Backends added by :class:`Add` get the next ids in time order: with ``n``
ids before the run, the k-th ``Add`` (0-based) creates id ``n + k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import _validate
from ..addresses import parse_endpoint
from ..errors import InvalidArgument, InvalidArgumentType, UnknownBackend, short
from ..pool import Pool
from .engine import K_ADD, K_FAIL, K_RECOVER, K_REMOVE, K_THRESHOLDS, K_WEIGHT


@dataclass(frozen=True)
class Add:
    """Add a backend at ``time`` (where the pool's insertion policy puts it)."""

    time: float
    weight: int = 1
    address: Any = None
    u_threshold: int = 0
    l_threshold: int = 0


@dataclass(frozen=True)
class Remove:
    """Remove ``backend`` at ``time``; its open connections drain."""

    time: float
    backend: int


@dataclass(frozen=True)
class SetWeight:
    """Set ``backend``'s weight at ``time`` (``ipvsadm -e``)."""

    time: float
    backend: int
    weight: int


@dataclass(frozen=True)
class Quiesce:
    """Set ``backend``'s weight to 0 at ``time`` (no new connections)."""

    time: float
    backend: int


@dataclass(frozen=True)
class Fail:
    """Health check failed: weight 0, the old weight remembered for :class:`Recover`."""

    time: float
    backend: int


@dataclass(frozen=True)
class Recover:
    """Health check passes again: restore the weight remembered by :class:`Fail`."""

    time: float
    backend: int


@dataclass(frozen=True)
class SetThresholds:
    """Set ``backend``'s connection thresholds at ``time`` (``ipvsadm -e -x -y``)."""

    time: float
    backend: int
    upper: int = 0
    lower: int = 0


EVENT_TYPES = (Add, Remove, SetWeight, Quiesce, Fail, Recover, SetThresholds)


@dataclass
class PoolEventArrays:
    """Pool events as the arrays the event loop reads (time-sorted), plus what Python keeps."""

    time: np.ndarray
    kind: np.ndarray
    backend: np.ndarray
    weight: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    added: list  # (id, weight, address, port) per Add, in time order
    given: list  # index in the caller's list of each row

    def __len__(self) -> int:
        return len(self.time)


def event_arrays(pool: Pool, events: Sequence[Any]) -> PoolEventArrays:
    """Validate ``events`` against ``pool`` and return them as arrays, in time order.

    Events at equal times keep the order given. Only membership is followed
    here (which ids are listed, which have failed); the edits themselves are
    the table's kernels, applied by the event loop.
    """
    events = list(events)
    for i, ev in enumerate(events):
        if not isinstance(ev, EVENT_TYPES):
            names = ", ".join(t.__name__ for t in EVENT_TYPES)
            raise InvalidArgumentType(f"events[{i}] must be one of {names}, got {short(ev)}")
        t = ev.time
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(t)) or float(t) < 0:
            raise InvalidArgument(f"events[{i}] ({short(ev)}): time must be a finite number >= 0")
    ordered = sorted(range(len(events)), key=lambda i: float(events[i].time))
    m = len(events)
    kind, backend, weight, upper, lower = (np.zeros(m, dtype=np.int64) for _ in range(5))
    times = np.zeros(m, dtype=np.float64)
    listed = {int(b) for b in pool.list_order}
    failed = {int(b) for b in np.flatnonzero(pool.failed)}
    next_id = pool.n_ids
    added = []
    for r, i in enumerate(ordered):
        ev = events[i]
        times[r] = float(ev.time)
        try:
            if isinstance(ev, Add):
                w = _validate.weight(ev.weight)
                hi = _validate.threshold(ev.u_threshold, "u_threshold")
                lo = _validate.threshold(ev.l_threshold, "l_threshold")
                addr, port = (None, 0) if ev.address is None else parse_endpoint(ev.address, "address")
                if pool.insertion == "address" and addr is None:
                    raise InvalidArgument("this pool orders backends by address: Add needs address=")
                b = next_id
                next_id += 1
                listed.add(b)
                added.append((b, w, addr, port))
                kind[r], weight[r], upper[r], lower[r] = K_ADD, w, hi, lo
            else:
                b = _listed_id(ev.backend, listed, next_id)
                if isinstance(ev, Remove):
                    listed.discard(b)
                    failed.discard(b)
                    kind[r] = K_REMOVE
                elif isinstance(ev, SetThresholds):
                    kind[r] = K_THRESHOLDS
                    upper[r] = _validate.threshold(ev.upper, "upper")
                    lower[r] = _validate.threshold(ev.lower, "lower")
                elif isinstance(ev, SetWeight):
                    kind[r], weight[r] = K_WEIGHT, _validate.weight(ev.weight)
                elif isinstance(ev, Quiesce):
                    kind[r], weight[r] = K_WEIGHT, 0
                elif isinstance(ev, Fail):
                    if b in failed:
                        raise InvalidArgument(f"backend {b} has already failed")
                    failed.add(b)
                    kind[r] = K_FAIL
                else:  # Recover
                    if b not in failed:
                        raise InvalidArgument(f"backend {b} has not failed, so it cannot recover")
                    failed.discard(b)
                    kind[r] = K_RECOVER
        except (ValueError, TypeError, LookupError) as exc:
            raise type(exc)(f"events[{i}] ({short(ev)}): {exc}") from None
        backend[r] = b
    return PoolEventArrays(times, kind, backend, weight, upper, lower, added, ordered)


def _listed_id(value: Any, listed: set, n_ids: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentType(f"backend id must be an integer, got {short(value)}")
    b = int(value)
    if not 0 <= b < n_ids:
        raise UnknownBackend(f"no backend with id {b} (ids are 0..{n_ids - 1})")
    if b not in listed:
        raise UnknownBackend(f"backend {b} was removed")
    return b

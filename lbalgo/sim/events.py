"""Pool events scheduled at given times during a simulation.

Each event is applied exactly as the matching :class:`~lbalgo.Pool` method
would apply it (same table edits, same list position, same scheduler hook),
but inside the compiled loop. ``Fail`` and ``Recover`` model a health checker
that quiesces a failed backend rather than deleting it (keepalived's
``inhibit_on_failure``): ``Fail`` sets the weight to 0 and remembers the old
one, ``Recover`` restores it. Open connections on a failed backend continue
(they are counted until they end). A deleting health checker is ``Remove``.

Backends added by :class:`Add` get the next ids in time order: with ``n``
ids before the run, the k-th ``Add`` (0-based) creates id ``n + k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import _validate
from ..pool import Pool
from .engine import K_ADD, K_REMOVE, K_THRESHOLDS, K_WEIGHT


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
class CompiledEvents:
    """Pool events as the arrays the engine reads, plus what Python must mirror."""

    time: np.ndarray
    kind: np.ndarray
    backend: np.ndarray
    pos: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    added: list  # (id, weight, address, port) per Add, in order
    final: Pool  # the shadow pool after every event


def _shadow(pool: Pool) -> Pool:
    shadow = Pool.__new__(Pool)
    shadow.__dict__.update(pool.__dict__)
    shadow.table = pool.table.copy()
    shadow.order = pool.order.copy()
    shadow.addresses = list(pool.addresses)
    shadow.ports = list(pool.ports)
    shadow._listeners = []
    return shadow


def compile_events(pool: Pool, events: Sequence[Any]) -> CompiledEvents:
    """Validate ``events`` against ``pool`` by replaying them on a copy; return arrays.

    Events are applied in time order; events at equal times in the order given.
    """
    events = list(events)
    for i, ev in enumerate(events):
        if not isinstance(ev, EVENT_TYPES):
            names = ", ".join(t.__name__ for t in EVENT_TYPES)
            raise TypeError(f"events[{i}] must be one of {names}, got {ev!r}")
        t = ev.time
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(t)) or float(t) < 0:
            raise ValueError(f"events[{i}] ({ev!r}): time must be a finite number >= 0")
    ordered = sorted(range(len(events)), key=lambda i: float(events[i].time))
    m = len(events)
    out = {name: np.zeros(m, dtype=np.int64) for name in ("kind", "backend", "pos", "a", "b", "c")}
    times = np.zeros(m, dtype=np.float64)
    shadow = _shadow(pool)
    remembered: dict[int, int] = {}
    added = []
    for r, i in enumerate(ordered):
        ev = events[i]
        times[r] = float(ev.time)
        try:
            if isinstance(ev, Add):
                b = shadow.add(ev.weight, address=ev.address, u_threshold=ev.u_threshold,
                               l_threshold=ev.l_threshold)
                kind, pos = K_ADD, shadow.position(b)
                a, hi, lo = int(shadow.table[b, 0]), ev.u_threshold, ev.l_threshold
                added.append((b, a, shadow.addresses[b], shadow.ports[b]))
            elif isinstance(ev, Remove):
                b = shadow.check_id(ev.backend)
                pos = shadow.position(b)
                shadow.remove(b)
                remembered.pop(b, None)
                kind, a, hi, lo = K_REMOVE, 0, 0, 0
            elif isinstance(ev, SetThresholds):
                b = shadow.check_id(ev.backend)
                shadow.set_thresholds(b, ev.upper, ev.lower)
                kind, pos, a, hi, lo = K_THRESHOLDS, shadow.position(b), 0, ev.upper, ev.lower
            else:
                b = shadow.check_id(ev.backend)
                if isinstance(ev, SetWeight):
                    w = _validate.weight(ev.weight)
                elif isinstance(ev, Quiesce):
                    w = 0
                elif isinstance(ev, Fail):
                    if b in remembered:
                        raise ValueError(f"backend {b} has already failed")
                    remembered[b] = int(shadow.table[b, 0])
                    w = 0
                else:  # Recover
                    if b not in remembered:
                        raise ValueError(f"backend {b} has not failed, so it cannot recover")
                    w = remembered.pop(b)
                shadow.set_weight(b, w)
                kind, pos, a, hi, lo = K_WEIGHT, shadow.position(b), w, 0, 0
        except (ValueError, TypeError, LookupError) as exc:
            raise type(exc)(f"events[{i}] ({ev!r}): {exc}") from None
        out["kind"][r], out["backend"][r], out["pos"][r] = kind, b, pos
        out["a"][r], out["b"][r], out["c"][r] = a, hi, lo
    return CompiledEvents(times, out["kind"], out["backend"], out["pos"], out["a"], out["b"], out["c"],
                          added, shadow)

"""What a simulation returns: a :class:`SimulationResult`, with its :class:`Trace` and :class:`EventLog`.

The trace holds one entry per connection, the event log one per pool event
applied. Plain data classes over NumPy arrays (with a few derived quantities);
:func:`lbalgo.sim.simulate` fills them in. The metrics are computed in the
report layer (:meth:`SimulationResult.metrics`), so the simulator does not import
:mod:`lbalgo.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import K_REMOVE

__all__ = ["SimulationResult", "Simulation", "Trace", "EventLog"]

_EMPTY_F = np.zeros(0, dtype=np.float64)


@dataclass
class Trace:
    """Per-connection arrays, in arrival order (length ``n``).

    ``backend`` is -1 for a dropped arrival (its ``start``/``end`` are NaN).
    ``start`` is when service began (FIFO), when the connection was
    established (TCP life cycle), else the arrival time (for the plain
    infinite-server model, the same array).
    ``end`` is when it left service / closed (a TCP connection then lingers
    ``linger`` seconds more in the inactive counter).
    """

    arrival: np.ndarray
    backend: np.ndarray
    start: np.ndarray
    end: np.ndarray
    client: np.ndarray
    destination: np.ndarray | None = None
    #: Seconds each connection waited before it was set up (failed dials of kube-proxy's
    #: userspace mode), added to ``sojourn`` and ``wait``; None when the scheduler has none.
    setup: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrival)

    @property
    def sojourn(self) -> np.ndarray:
        """``end - arrival`` (+ ``setup``): time in the system (queue + service, or open time)."""
        return self.end - self.arrival if self.setup is None else self.end - self.arrival + self.setup

    @property
    def wait(self) -> np.ndarray:
        """``start - arrival`` (+ ``setup``): time before service (FIFO queueing; 0 otherwise)."""
        return self.start - self.arrival if self.setup is None else self.start - self.arrival + self.setup

    @property
    def nbytes(self) -> int:
        """Bytes held by the trace's arrays (shared arrays counted once)."""
        seen: dict[int, int] = {}
        arrays = (self.arrival, self.backend, self.start, self.end, self.client, self.destination, self.setup)
        for a in arrays:
            if a is not None:
                seen[id(a)] = a.nbytes
        return sum(seen.values())


@dataclass
class EventLog:
    """The pool events as the run applied them, in time order.

    ``weight_after[r]`` is the backend's weight once event ``r`` was applied
    (0 after a removal or a failure); ``given[r]`` is the event's index in the
    list passed to :func:`simulate`.
    """

    time: np.ndarray
    kind: np.ndarray
    backend: np.ndarray
    weight_after: np.ndarray
    given: list

    def __len__(self) -> int:
        return len(self.time)

    def listed_weights(self, initial: np.ndarray, n_ids: int) -> list[tuple[float, np.ndarray]]:
        """``(time, weight per backend id)`` from the start and after each event, removed backends at 0."""
        w = np.zeros(n_ids, dtype=np.int64)
        w[: len(initial)] = initial
        out = [(0.0, w.copy())]
        for r in range(len(self)):
            b = int(self.backend[r])
            w[b] = 0 if self.kind[r] == K_REMOVE else int(self.weight_after[r])
            out.append((float(self.time[r]), w.copy()))
        return out


@dataclass
class SimulationResult:
    """What :func:`simulate` returns: the trace, counter samples and run statistics."""

    trace: Trace
    weights: np.ndarray  # reference weight per backend id (at the start; added ones: at their add)
    n_backends: int
    service: str
    lifecycle: str
    events: int  # events processed (arrivals + connection events + pool events)
    drops: int
    seconds: float  # wall time of the compiled loop
    sample_times: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    samples_active: np.ndarray | None = None  # int32[samples, backends]: pool counters
    samples_inactive: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    event_log: EventLog | None = None

    @property
    def events_per_second(self) -> float:
        """Processed events per second of compiled-loop wall time."""
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def counts(self) -> np.ndarray:
        """Count the connections scheduled to each backend id."""
        b = self.trace.backend
        return np.bincount(b[b >= 0], minlength=self.n_backends).astype(np.int64)

    def mean_open(self) -> np.ndarray:
        """Time-averaged open connections per backend (``sum of sojourns / horizon``)."""
        tr = self.trace
        ok = tr.backend >= 0
        horizon = float(np.nanmax(tr.end)) if ok.any() else 0.0
        if horizon <= 0:
            return np.zeros(self.n_backends)
        busy = np.bincount(tr.backend[ok], weights=tr.end[ok] - tr.arrival[ok], minlength=self.n_backends)
        return busy / horizon

    def metrics(self) -> dict[str, Any]:
        """Return fairness, drops, latency (queued service models) and affinity, as one dict.

        Fairness is measured on connection counts and on time-averaged open
        connections, against :attr:`weights` (reference weights: under pool
        events these are only a guide). The metrics are computed in the
        report layer: this is :func:`lbalgo.report.simulation.simulation_metrics`
        (the simulator does not depend on :mod:`lbalgo.metrics`).
        """
        from ..report.simulation import simulation_metrics

        return simulation_metrics(self)


#: The name :class:`SimulationResult` had before it said that it is a result (still importable).
Simulation = SimulationResult

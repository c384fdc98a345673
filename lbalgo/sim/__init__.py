"""Discrete-event simulation of a scheduler under a workload (see ``docs/simulator.md``).

>>> from lbalgo import RR, simulate, workloads
>>> wl = workloads.Workload(arrivals=workloads.poisson(rate=100.0), n=1000,
...                        lifetimes=workloads.exponential(mean=0.5), seed=1)
>>> res = simulate(RR(weights=[1, 1]), wl)
>>> res.counts().tolist()
[500, 500]

The loop is compiled once for every scheduler (:mod:`lbalgo.sim.engine`) and
calls the scheduler's own ``schedule`` and ``changed`` kernels through
function pointers; Python only prepares and checks arrays.
"""

from __future__ import annotations

import math
import time as _time
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .. import _table
from .._validate import flat
from ..errors import InvalidArgument, InvalidArgumentType, PrecisionWarning, short
from . import engine as _engine
from .events import Add, Fail, Quiesce, Recover, Remove, SetThresholds, SetWeight, event_arrays
from .heap import grown, new_heap

__all__ = ["simulate", "Simulation", "Trace", "Add", "Remove", "SetWeight", "Quiesce", "Fail",
           "Recover", "SetThresholds", "SERVICES", "LIFECYCLES"]

SERVICES = {"infinite": _engine.S_INFINITE, "fifo": _engine.S_FIFO, "ps": _engine.S_PS}
LIFECYCLES = {"simple": _engine.L_SIMPLE, "tcp": _engine.L_TCP}
#: Counter samples are kept in at most this many cells (rows x backend ids) per counter;
#: past it the sampling step doubles and every other sample is dropped.
MAX_SAMPLE_CELLS = 1 << 24
#: Rows of counter samples at most (even), whatever the pool size.
MAX_SAMPLE_ROWS = 1 << 17

_EMPTY_F = np.zeros(0, dtype=np.float64)
_EMPTY_I = np.zeros(0, dtype=np.int64)


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
            w[b] = 0 if self.kind[r] == _engine.K_REMOVE else int(self.weight_after[r])
            out.append((float(self.time[r]), w.copy()))
        return out


@dataclass
class Simulation:
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


def _per_backend(value: Any, what: str, capacity: int, initial: np.ndarray, added: list,
                 dtype: Any) -> np.ndarray:
    """Expand ``servers``/``speeds`` to one entry per backend id."""
    out = np.ones(capacity, dtype=dtype)
    n0 = len(initial)
    if isinstance(value, str):
        if value != "weight":
            raise InvalidArgument(f"{what} must be 'weight', a number or one value per backend, got "
                                  f"{short(value)}")
        out[:n0] = np.maximum(1, initial)
        for b, w, _, _ in added:
            out[b] = max(1, w)
        return out
    try:
        if isinstance(value, (list, tuple)):
            flat(value, what)
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        if isinstance(e, InvalidArgument):
            raise
        raise InvalidArgument(f"{what} must be 'weight', a number or one number per backend, got "
                              f"{short(value)}") from None
    if arr.ndim == 0:
        arr = np.full(n0 + len(added), float(arr))
    if arr.ndim != 1 or len(arr) != n0 + len(added):
        raise InvalidArgument(f"{what} must have one entry per backend id ({n0 + len(added)}, counting "
                              f"added backends), got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise InvalidArgument(f"{what} must be finite and > 0")
    if dtype is np.int64 and ((arr != np.round(arr)).any() or (arr > 2.0**62).any()):
        raise InvalidArgument(f"{what} must be whole numbers of servers (at most 2**62)")
    out[: len(arr)] = arr.astype(dtype)
    return out


def _float(value: Any) -> float:
    """``float(value)``; an integer too large for a float is infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


#: Warn when the clock resolves a typical service time to worse than this share of it.
PRECISION_WARNING_SHARE = 1e-3


def _check_horizon(arrays: Any, event_times: np.ndarray, service: str, lifecycle: str, establish: float,
                   linger: float, speeds: np.ndarray) -> None:
    """Refuse a run whose clock would overflow; warn when its times drown the service times.

    Every event time stays below ``last arrival (or pool event) + largest
    lifetime (+ establish + linger)`` for the infinite server, and below
    ``last arrival + total work / slowest speed`` for FIFO (times the number
    of jobs for processor sharing, whose finish estimates scale with it).
    When that bound is not a finite float, the loop would meet infinite
    times (a speed of 5e-324, an arrival at 1e308 plus a lifetime of 1e308):
    raise before anything runs.
    """
    n = len(arrays.arrival)
    if n == 0:
        return
    last = max(float(arrays.arrival[-1]), float(event_times.max()) if len(event_times) else 0.0)
    life = arrays.lifetime
    with np.errstate(over="ignore"):
        if service == "infinite":
            extra = float(life.max())
            if lifecycle == "tcp":
                extra += (float(establish) if math.isfinite(establish) else 0.0) + float(linger)
            what = "the largest lifetime"
        else:
            slowest = float(speeds.min())
            extra = float(life.sum()) / slowest * (n if service == "ps" else 1)
            if not math.isfinite(extra):
                raise InvalidArgument(f"speeds: the slowest speed {slowest!r} makes the {n:,} connections' "
                                      "service "
                                      f"times too long to simulate (total work {float(life.sum())!r} / speed "
                                      "overflows); use larger speeds or smaller lifetimes")
            what = "the total work over the slowest speed"
        if not math.isfinite(last + extra):
            raise InvalidArgument("the simulated times would overflow: the last arrival or pool event at "
                                  f"{last!r} s "
                                  f"plus {what} ({extra!r} s) is beyond the largest float; shift the "
                                  "arrivals "
                                  "or shorten the lifetimes")
    # Latency is end - arrival: at large times the clock has few bits left for the service time.
    step = max(1, n // 4096)
    sample = life[::step]
    sample = sample[sample > 0]
    if sample.size:
        typical = float(np.median(sample)) / (float(speeds.max()) if service != "infinite" else 1.0)
        resolution = float(np.spacing(last))
        if resolution > PRECISION_WARNING_SHARE * typical:
            warnings.warn(PrecisionWarning(
                f"simulate: times reach {last:.3g} s, where the clock resolves only {resolution:.3g} s, but "
                "the "
                f"typical service time is {typical:.3g} s: times measured from arrival (latency, open time) "
                "lose "
                "precision, and can read 0; raise the arrival rate or start the arrivals nearer 0"),
                stacklevel=3)


def _check_arrays(arrays: Any, keys: np.ndarray) -> None:
    """Validate generated (or hand-made) workload arrays before the kernel trusts them."""
    a, life = arrays.arrival, arrays.lifetime
    expected = (("arrival", a, np.float64), ("lifetime", life, np.float64), ("keys", keys, np.int64))
    for name, x, dtype in expected:
        if not isinstance(x, np.ndarray) or x.dtype != dtype or x.ndim != 1 or not x.flags.c_contiguous:
            raise InvalidArgumentType(f"workload {name} must be a contiguous 1-D {np.dtype(dtype).name} "
                                      "array")
        if len(x) != len(a):
            raise InvalidArgument(f"workload {name} has {len(x)} entries but there are {len(a)} arrivals")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        raise InvalidArgument(f"arrival[{int(np.flatnonzero(bad)[0])}] is not a finite time >= 0")
    dec = np.flatnonzero(np.diff(a) < 0)
    if dec.size:
        raise InvalidArgument(f"arrival times must be non-decreasing (arrival[{int(dec[0]) + 1}] is earlier)")
    bad = ~np.isfinite(life) | (life < 0)
    if bad.any():
        raise InvalidArgument(f"lifetime[{int(np.flatnonzero(bad)[0])}] is not a finite duration >= 0")


def simulate(
    scheduler: Any,
    workload: Any,
    *,
    events: Sequence[Any] = (),
    service: str = "infinite",
    servers: Any = 1,
    speeds: Any = 1.0,
    lifecycle: str = "simple",
    establish: float = 0.0,
    linger: float = 120.0,
    sample_every: float | None = None,
    keys_from: str | None = None,
    key: str | None = None,
) -> Simulation:
    """Run ``workload`` through ``scheduler`` in the compiled event loop.

    Parameters
    ----------
    scheduler : Scheduler
        Any lbalgo scheduler. Its pool's counters and the scheduler's state
        move as in the simulated run (and are left as the run ends).
    workload : Workload or workloads.WorkloadArrays
        The connections (a :class:`~lbalgo.workloads.Workload` is generated first).
    events : sequence of Add, Remove, SetWeight, Quiesce, Fail, Recover, SetThresholds
        Pool changes at given times (see :mod:`lbalgo.sim.events`).
    service : {"infinite", "fifo", "ps"}
        "infinite": every connection stays open for its lifetime (IPVS: the
        counters are open connections). "fifo": backend ``b`` has
        ``servers[b]`` servers of speed ``speeds[b]`` and one FIFO queue; a
        connection is picked at arrival, counted from arrival to departure
        (queued + in service) and needs ``lifetime / speed`` of service.
        "ps": processor sharing; backend ``b`` is one processor of speed
        ``speeds[b]`` shared equally by all its connections (``servers``
        is ignored); a connection leaves once it has received ``lifetime``
        of work.
    servers : int, sequence or "weight"
        Servers per backend (FIFO). "weight": ``max(1, weight)`` at the start
        (for added backends, at their add); later weight changes do not
        change capacity.
    speeds : float, sequence or "weight"
        Service speed per backend (FIFO and PS). "weight": ``max(1, weight)``.
    lifecycle : {"simple", "tcp"}
        "simple": a connection joins the counter the pool's ``new_conns``
        names and leaves it when it ends. "tcp" (IPVS: ``ip_vs_bind_dest`` in
        ``net/netfilter/ipvs/ip_vs_conn.c``, ``set_tcp_state`` in ``ip_vs_proto_tcp.c``;
        needs ``new_conns="inactive"`` and the infinite server): inactive at
        SYN, active after ``establish`` seconds, open for its lifetime,
        inactive again at close, gone ``linger`` seconds later (TIME_WAIT).
        ``establish=inf`` models UDP (``ip_vs_proto_udp.c``): never active, gone after
        lifetime + linger.
    sample_every : float, optional
        Record the pool's active/inactive counters at ``t = 0, dt, 2 dt, …``
        up to the time of the last event (each sample after every event at
        its time).
    keys_from : {"client", "destination"}, optional
        The address ``pick`` receives as its key: each connection's client or
        its destination (default: destination for DH/LBLC/LBLCR, else client).
    key : {"client", "destination"}, optional
        ``keys_from`` under its former name.
    """
    from ..schedulers.base import Scheduler
    from ..workloads import Workload, WorkloadArrays

    if not isinstance(scheduler, Scheduler):
        raise InvalidArgumentType(f"scheduler must be an lbalgo Scheduler, got {type(scheduler).__name__}")
    if isinstance(workload, Workload):
        arrays = workload.generate()
    elif isinstance(workload, WorkloadArrays):
        arrays = workload
    else:
        raise InvalidArgumentType(f"workload must be a workloads.Workload, got {type(workload).__name__}")
    if not isinstance(service, str) or service not in SERVICES:
        raise InvalidArgument(f"service must be one of {sorted(SERVICES)}, got {short(service)}")
    if not isinstance(lifecycle, str) or lifecycle not in LIFECYCLES:
        raise InvalidArgument(f"lifecycle must be one of {sorted(LIFECYCLES)}, got {short(lifecycle)}")
    pool = scheduler.pool
    if lifecycle == "tcp":
        if pool.new_conns != "inactive":
            raise InvalidArgument("lifecycle='tcp' needs a pool with new_conns='inactive' (the IPVS life "
                                  "cycle)")
        if service != "infinite":
            raise InvalidArgument("lifecycle='tcp' is modelled with service='infinite' only")
        for what, v in (("establish", establish), ("linger", linger)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(_float(v)) or v < 0:
                raise InvalidArgument(f"{what} must be a time >= 0, got {short(v)}")
        if math.isinf(_float(linger)):
            raise InvalidArgument("linger must be finite")
        establish, linger = _float(establish), float(linger)  # an establish beyond floats: never (UDP)
    option = "key" if key is not None else "keys_from"
    if key is not None and keys_from is not None and key != keys_from:
        raise InvalidArgument(f"keys_from={short(keys_from)} and key={short(key)} disagree; "
                              "give keys_from only")
    key = keys_from if key is None else key
    if key is None:
        key = "destination" if scheduler.destination_keyed else "client"
    if not isinstance(key, str) or key not in ("client", "destination"):
        raise InvalidArgument(f"{option} must be 'client' or 'destination', got {short(key)}")
    keys = arrays.client if key == "client" else arrays.destination
    if keys is None:
        raise InvalidArgument(f"{scheduler.name} hashes the {key} address: the workload needs {key}s=")
    if scheduler.keyed and key == "client" and arrays.client.size and not arrays.client.any():
        raise InvalidArgument(f"{scheduler.name} hashes the client address: the workload needs clients=")

    if sample_every is not None:
        if isinstance(sample_every, bool) or not isinstance(sample_every, (int, float)) \
                or not math.isfinite(_float(sample_every)) or sample_every <= 0:
            raise InvalidArgument(f"sample_every must be a time > 0, got {short(sample_every)}")
    _check_arrays(arrays, keys)
    return _run(scheduler, arrays, keys, events, service, servers, speeds, lifecycle, establish, linger,
                sample_every)


def _run(scheduler: Any, arrays: Any, keys: np.ndarray, events: Sequence[Any], service: str, servers: Any,
         speeds: Any, lifecycle: str, establish: float, linger: float,
         sample_every: float | None) -> Simulation:
    """Everything validated: build the records, run the compiled loop, check and package the result.

    If the loop or anything after it fails, the scheduler, its pool and its
    state are restored as they were before the call.
    """
    pool = scheduler.pool
    ev = event_arrays(pool, events)
    if len(ev) and pool.subscribers > 1:
        raise InvalidArgument("this pool is shared by several schedulers; pool events in a simulation "
                         "reach only the simulated one: give it its own pool")
    n0 = pool.n_ids
    initial = pool.weights.copy()
    last_weights = pool.last_weights
    capacity = max(pool.capacity, n0 + len(ev.added))
    servers_arr = _per_backend(servers, "servers", capacity, last_weights, ev.added, np.int64)
    speeds_arr = _per_backend(speeds, "speeds", capacity, last_weights, ev.added, np.float64)
    _check_horizon(arrays, np.asarray(ev.time, dtype=np.float64), service, lifecycle, float(establish),
                   float(linger), speeds_arr[: n0 + len(ev.added)] if n0 + len(ev.added) else speeds_arr)
    n = len(arrays.arrival)

    saved = _Snapshot(scheduler)
    try:
        pool.reserve(capacity)  # resizes the schedulers' per-id state (EV_RESIZE)
        scheduler.reserve(n)  # schedulers whose decisions add state rows (LBLC) grow them first
        table = pool.table
        persistence = getattr(scheduler, "persistence", None)
        sched = _engine.Sched(table, scheduler.state, scheduler.fstate,
                              persistence if persistence is not None else _no_persistence(),
                              np.zeros(1, dtype=np.int64))
        plain = service == "infinite" and lifecycle == "simple"
        conns = _engine.Connections(arrays.arrival, arrays.lifetime, keys, np.empty(n, dtype=np.int64),
                                    _EMPTY_F if plain else np.empty(n, dtype=np.float64),
                                    np.empty(n, dtype=np.float64))
        pool_events = _engine.PoolEvents(ev.time, ev.kind, ev.backend, ev.weight, ev.upper, ev.lower,
                                         _ranks(pool, ev.added, capacity), np.zeros(len(ev), dtype=np.int64))
        count_mode = _table.COUNT_INACTIVE if lifecycle == "tcp" else pool.count_mode
        config = _engine.Config(SERVICES[service], LIFECYCLES[lifecycle], count_mode,
                                _engine.INSERTIONS[pool.insertion], persistence is not None,
                                bool(scheduler.watches_counters), not plain, float(establish), float(linger))
        first_after = max(float(arrays.arrival[-1]) if n else 0.0, float(np.max(ev.time)) if len(ev) else 0.0)
        samples = _new_samples(capacity, sample_every, first_after)
        queues = _engine.new_queues(n, capacity, SERVICES[service])
        heap = new_heap(min(n, 1 << 16) + capacity)
        progress = np.zeros(_engine.N_PROGRESS, dtype=np.int64)
        clock = np.zeros(1, dtype=np.float64)
        service_arrays = _engine.ServiceArrays(servers_arr, speeds_arr)
        head = (sched, conns, pool_events, service_arrays, config, samples, queues)
        run = _engine_dispatcher(*head, heap, progress, clock)
        schedule, changed = scheduler._schedule.compiled, scheduler._changed.compiled
        seconds = 0.0
        while True:
            t0 = _time.perf_counter()
            finished = run(schedule, changed, *head, heap, progress, clock)
            seconds += _time.perf_counter() - t0
            if finished:
                break
            heap = grown(heap)
        pool.adopt_added([(addr, port) for _, _, addr, port in ev.added])
    except BaseException:
        saved.restore()
        raise

    ref_weights = np.concatenate((initial, np.array([w for _, w, _, _ in ev.added], dtype=np.int64)))
    setup = getattr(scheduler, "inner", scheduler).setup_delays(n)
    trace = Trace(arrays.arrival, conns.backend.astype(np.int32), arrays.arrival if plain else conns.start,
                  conns.end, arrays.client, arrays.destination, setup=setup)
    k = int(samples.meta[_engine.SAMPLES_TAKEN])
    dt = float(samples.fmeta[_engine.SAMPLE_DT])
    n_ids = pool.n_ids
    return Simulation(
        trace=trace, weights=ref_weights, n_backends=n_ids, service=service, lifecycle=lifecycle,
        events=int(progress[_engine.P_EVENTS]), drops=int(progress[_engine.P_DROPS]), seconds=seconds,
        sample_times=np.arange(k, dtype=np.float64) * dt,
        samples_active=samples.active[:k, :n_ids].copy() if k else None,
        samples_inactive=samples.inactive[:k, :n_ids].copy() if k else None,
        stats={"arrivals": int(progress[_engine.P_ARRIVALS]),
               "connection_events": int(progress[_engine.P_CONN_EVENTS]),
               "pool_events": int(progress[_engine.P_POOL_EVENTS]),
               "max_pending": int(progress[_engine.P_MAX_PENDING]),
               "active_left": pool.active_conns.copy(),
               "inactive_left": pool.inactive_conns.copy()},
        event_log=EventLog(ev.time, ev.kind, ev.backend, pool_events.weight_after, ev.given),
    )


class _Snapshot:
    """Everything :func:`simulate` may change on a scheduler, to put back if it fails."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.pool_dict = dict(scheduler.pool.__dict__)
        self.table = scheduler.pool.table.copy()
        self.lists = (list(scheduler.pool.addresses), list(scheduler.pool.ports), list(scheduler.pool._keys))
        self.holder = getattr(scheduler, "inner", scheduler)
        self.state = (self.holder.state.copy(), self.holder.fstate.copy())
        aff = getattr(scheduler, "_aff", None)
        self.aff = None if aff is None else [a.copy() for a in aff]

    def restore(self) -> None:
        pool = self.scheduler.pool
        pool.__dict__.update(self.pool_dict)
        pool.table = self.table
        pool.addresses, pool.ports, pool._keys = self.lists
        self.holder.state, self.holder.fstate = self.state
        if self.aff is not None:
            from ..schedulers.affinity._store import ROW_TIMES, ROWS

            self.aff[ROW_TIMES] = self.aff[ROWS].view(np.float64)  # a view of the restored rows, as before
            self.scheduler._aff = tuple(self.aff)


_no_persistence_tables: tuple | None = None


def _no_persistence() -> tuple:
    """Return persistence tables of the right types for a run without persistence (never read)."""
    global _no_persistence_tables
    if _no_persistence_tables is None:
        from ..schedulers.affinity._store import N_META, N_TIMING, ROW_WIDTH

        rows = np.zeros((1, ROW_WIDTH), dtype=np.int64)
        # In the order of the affinity tuple:
        # META, TIMING, CLIENT_SLOTS, ROWS, ROW_TIMES, LISTS, RANK, V6FOLD.
        _no_persistence_tables = (
            np.zeros(N_META, np.int64), np.zeros(N_TIMING), np.full((2, 2), -1, np.int64),
            rows, rows.view(np.float64), np.zeros((1, 3), np.int64), np.zeros(1, np.int64),
            np.zeros(1, np.int64),
        )
    return _no_persistence_tables


def _ranks(pool: Any, added: list, capacity: int) -> np.ndarray:
    """Per backend id, its endpoint string's rank among all ids (kube-proxy's insertion order)."""
    ranks = np.zeros(capacity, dtype=np.int64)
    if pool.insertion != "address":
        return ranks
    from ..addresses import endpoint_string

    strings = [endpoint_string(a, p) for a, p in zip(pool.addresses, pool.ports)]
    strings += [endpoint_string(a, p) for _, _, a, p in added]
    order = sorted(set(strings))
    index = {s: r for r, s in enumerate(order)}
    ranks[: len(strings)] = [index[s] for s in strings]
    return ranks


def _new_samples(capacity: int, sample_every: float | None, reached: float = 0.0) -> Any:
    """Allocate the sample rows, and choose the first sampling step.

    The loop doubles the step (dropping every other row) whenever the rows
    are full. It certainly processes an event at time ``reached`` (the last
    arrival or pool event), so every doubling it would make before then is
    made here instead: the same samples, without filling and halving the
    rows over and over (a step of 1e-9 s over a 20 s run doubles 34 times,
    5e-324 s a thousand times).
    """
    rows = 0
    step = float(sample_every or 0.0)
    if sample_every is not None:
        rows = max(2, min(MAX_SAMPLE_ROWS, MAX_SAMPLE_CELLS // capacity)) // 2 * 2
        while rows * step < reached:
            step *= 2.0
    meta = np.zeros(1, dtype=np.int64)
    fmeta = np.array([step])
    active = np.zeros((rows, capacity), dtype=np.int32)
    inactive = np.zeros((rows, capacity), dtype=np.int32)
    return _engine.Samples(active, inactive, meta, fmeta)


_compiled_run: Any = None


def _engine_dispatcher(*records: Any) -> Any:
    """Return the event loop's compiled entry point, compiled (or loaded from the cache) once.

    Its first two arguments are typed as function pointers of the uniform
    kernel signatures, so the one compiled loop runs every scheduler. Calling
    the entry point (not the dispatcher) keeps Numba from specialising the
    loop on each scheduler's kernels.
    """
    global _compiled_run
    if _compiled_run is None:
        from .._jit import DISABLED

        if DISABLED:
            return _engine.run.compiled
        import numba

        from .._jit import function_type

        dispatcher = _engine.run.compiled
        kernels = [function_type("schedule"), function_type("changed")]
        types = tuple(kernels + [numba.typeof(r) for r in records])
        dispatcher.compile(types)
        dispatcher.disable_compile()
        _compiled_run = dispatcher.overloads[types].entry_point
    return _compiled_run

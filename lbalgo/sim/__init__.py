"""Discrete-event simulation of a scheduler under a workload (see ``docs/simulator.md``).

>>> from lbalgo import RR, simulate, workloads
>>> wl = workloads.Workload(arrivals=workloads.poisson(rate=100.0), n=1000,
...                        lifetimes=workloads.exponential(mean=0.5), seed=1)
>>> res = simulate(RR(weights=[1, 1]), wl)
>>> res.counts().tolist()
[500, 500]

The loop is compiled once for every scheduler (:mod:`lbalgo.sim.engine`) and
calls the scheduler's own ``schedule`` and ``changed`` kernels through
function pointers; Python only prepares and checks arrays. This module is the
public API: :func:`simulate` checks its arguments, runs the loop and packages
the result. Beside it, :mod:`~lbalgo.sim.results` holds what it returns
(:class:`SimulationResult`, :class:`Trace`), :mod:`~lbalgo.sim.checks` the checks of
its arguments, :mod:`~lbalgo.sim.records` the records it packs for the loop,
:mod:`~lbalgo.sim.events` the pool events and :mod:`~lbalgo.sim.heap` the
loop's heap.
"""

from __future__ import annotations

import math
import time as _time
from typing import Any, Sequence

import numpy as np

from .. import _table
from ..errors import InvalidArgument, InvalidArgumentType, short
from . import engine as _engine
from .checks import PRECISION_WARNING_SHARE as PRECISION_WARNING_SHARE  # public, as before the split
from .checks import as_float, check_arrays, check_horizon, per_backend
from .events import Add, Fail, Quiesce, Recover, Remove, SetThresholds, SetWeight, event_arrays
from .heap import grown, new_heap
from .records import LIFECYCLE_CODES, SERVICE_CODES, insertion_ranks, new_samples, no_persistence
from .records import MAX_SAMPLE_CELLS as MAX_SAMPLE_CELLS  # public (docs/limits.md), as before the split
from .records import MAX_SAMPLE_ROWS as MAX_SAMPLE_ROWS
from .records import engine_dispatcher as _engine_dispatcher  # _run looks it up here (tests replace it)
from .results import EventLog, Simulation, SimulationResult, Trace

__all__ = ["simulate", "SimulationResult", "Simulation", "Trace", "Add", "Remove", "SetWeight", "Quiesce",
           "Fail", "Recover", "SetThresholds", "SERVICE_CODES", "LIFECYCLE_CODES"]

# Former names, kept for code that imported them from here. They were renamed because the scenario's
# SERVICES and LIFECYCLES are tuples of names (lbalgo.scenario), where these map names to engine codes.
SERVICES = SERVICE_CODES
LIFECYCLES = LIFECYCLE_CODES

_EMPTY_F = np.zeros(0, dtype=np.float64)


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
) -> SimulationResult:
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
    if not isinstance(service, str) or service not in SERVICE_CODES:
        raise InvalidArgument(f"service must be one of {sorted(SERVICE_CODES)}, got {short(service)}")
    if not isinstance(lifecycle, str) or lifecycle not in LIFECYCLE_CODES:
        raise InvalidArgument(f"lifecycle must be one of {sorted(LIFECYCLE_CODES)}, got {short(lifecycle)}")
    pool = scheduler.pool
    if lifecycle == "tcp":
        if pool.new_conns != "inactive":
            raise InvalidArgument("lifecycle='tcp' needs a pool with new_conns='inactive' (the IPVS life "
                                  "cycle)")
        if service != "infinite":
            raise InvalidArgument("lifecycle='tcp' is modelled with service='infinite' only")
        for what, v in (("establish", establish), ("linger", linger)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(as_float(v)) or v < 0:
                raise InvalidArgument(f"{what} must be a time >= 0, got {short(v)}")
        if math.isinf(as_float(linger)):
            raise InvalidArgument("linger must be finite")
        establish, linger = as_float(establish), float(linger)  # an establish beyond floats: never (UDP)
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
                or not math.isfinite(as_float(sample_every)) or sample_every <= 0:
            raise InvalidArgument(f"sample_every must be a time > 0, got {short(sample_every)}")
    check_arrays(arrays, keys)
    return _run(scheduler, arrays, keys, events, service, servers, speeds, lifecycle, establish, linger,
                sample_every)


def _run(scheduler: Any, arrays: Any, keys: np.ndarray, events: Sequence[Any], service: str, servers: Any,
         speeds: Any, lifecycle: str, establish: float, linger: float,
         sample_every: float | None) -> SimulationResult:
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
    servers_arr = per_backend(servers, "servers", capacity, last_weights, ev.added, np.int64)
    speeds_arr = per_backend(speeds, "speeds", capacity, last_weights, ev.added, np.float64)
    check_horizon(arrays, np.asarray(ev.time, dtype=np.float64), service, lifecycle, float(establish),
                   float(linger), speeds_arr[: n0 + len(ev.added)] if n0 + len(ev.added) else speeds_arr)
    n = len(arrays.arrival)

    saved = _Snapshot(scheduler)
    try:
        pool.reserve(capacity)  # resizes the schedulers' per-id state (EV_RESIZE)
        scheduler.reserve(n)  # schedulers whose decisions add state rows (LBLC) grow them first
        table = pool.table
        persistence = getattr(scheduler, "persistence", None)
        sched = _engine.Sched(table, scheduler.state, scheduler.fstate,
                              persistence if persistence is not None else no_persistence(),
                              np.zeros(1, dtype=np.int64))
        plain = service == "infinite" and lifecycle == "simple"
        conns = _engine.Connections(arrays.arrival, arrays.lifetime, keys, np.empty(n, dtype=np.int64),
                                    _EMPTY_F if plain else np.empty(n, dtype=np.float64),
                                    np.empty(n, dtype=np.float64))
        pool_events = _engine.PoolEvents(ev.time, ev.kind, ev.backend, ev.weight, ev.upper, ev.lower,
                                         insertion_ranks(pool, ev.added, capacity),
                                         np.zeros(len(ev), dtype=np.int64))
        count_mode = _table.COUNT_INACTIVE if lifecycle == "tcp" else pool.count_mode
        config = _engine.Config(SERVICE_CODES[service], LIFECYCLE_CODES[lifecycle], count_mode,
                                _engine.INSERTIONS[pool.insertion], persistence is not None,
                                bool(scheduler.watches_counters), not plain, float(establish), float(linger))
        first_after = max(float(arrays.arrival[-1]) if n else 0.0, float(np.max(ev.time)) if len(ev) else 0.0)
        samples = new_samples(capacity, sample_every, first_after)
        queues = _engine.new_queues(n, capacity, SERVICE_CODES[service])
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
    return SimulationResult(
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
        if aff is None:
            self.aff = None
        else:
            from ..schedulers.affinity._store import copy_tables

            self.aff = copy_tables(aff)

    def restore(self) -> None:
        pool = self.scheduler.pool
        pool.__dict__.update(self.pool_dict)
        pool.table = self.table
        pool.addresses, pool.ports, pool._keys = self.lists
        self.holder.state, self.holder.fstate = self.state
        if self.aff is not None:
            self.scheduler._aff = self.aff

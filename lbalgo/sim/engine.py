"""The compiled discrete-event loop behind :func:`lbalgo.simulate`, compiled once for every scheduler.

:func:`run` receives the scheduler's ``schedule`` and ``changed`` kernels as
function pointers (the uniform signatures of :mod:`lbalgo._jit`), so one
compiled loop serves every algorithm, with ClientIP affinity or without.
Nothing per event crosses into Python. Its inputs are records (named tuples
of arrays and scalars, built and validated by :mod:`lbalgo.sim`)::

    sched    table, state, fstate     the pool table and the scheduler's state
             aff, inner_key           the persistence layer's tables and scratch
    conns    arrival, work, keys      per connection, in arrival order
             backend, start, end      written by the loop
    events   time, kind, backend, weight, upper, lower   pool events, time-sorted
             rank                     per backend id: endpoint-string order (insertion "address")
             weight_after             written: the backend's weight after each event
    service  servers, speeds          per backend id (FIFO, processor sharing)
    config   model, lifecycle, count_mode, insertion, persist, watches,
             store_start, establish, linger
    samples  active, inactive         counters per backend id at t = k * dt
             count, dt                (bounded rows: see :func:`take_samples`)
    queues   FIFO queues and processor-sharing jobs, per backend
    heap     the connection events (:mod:`.heap`)
    progress where the loop is: it stops when the heap is full and resumes

Three event streams are merged in ``(time, priority, sequence)`` order::

    priority 0  connection events, from the heap (:mod:`.heap`): end /
                departure / establish / close / leave
    priority 1  pool events, in the given order (sorted by time, stable)
    priority 2  arrivals, in trace order (times are non-decreasing)
    priority 3  samples of the counters (after everything at their time)

Each service model has its own arrival handler; connection events share
one handler. Every counter move outside ``schedule`` is reported to
schedulers that watch the counters (``changed(..., EV_COUNTERS, b)``).

Processor sharing keeps, per backend, a virtual time ``V`` (work served so
far to each job present: ``dV/dt = speed / jobs``) and its jobs sorted by
finish tag ``V(arrival) + work``. Only the head's departure is scheduled;
every arrival or departure at the backend schedules a fresh one and the
older event becomes stale (skipped, not counted).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._jit import kernel
from .._table import (
    ACTIVE,
    BACKEND,
    COUNT_ACTIVE,
    EV_ADD,
    EV_COUNTERS,
    EV_DELETE,
    EV_UPDATE,
    HEADER,
    IDS,
    INACTIVE,
    LISTED,
    SLOT,
    WEIGHT,
    activate,
    deactivate,
    fail_backend,
    insert_backend,
    recover_backend,
    remove_backend,
    set_thresholds,
    set_weight,
    unbind,
)
from ..schedulers.affinity._kernels import affinity_changed, persist_schedule
from .heap import MAX_SIZE, SIZE, pop, push

Sched = namedtuple("Sched", "table state fstate aff inner_key")
Connections = namedtuple("Connections", "arrival work keys backend start end")
PoolEvents = namedtuple("PoolEvents", "time kind backend weight upper lower rank weight_after")
ServiceArrays = namedtuple("ServiceArrays", "servers speeds")
Config = namedtuple("Config", "model lifecycle count_mode insertion persist watches store_start "
                    "establish linger")
Samples = namedtuple("Samples", "active inactive meta fmeta")
Queues = namedtuple("Queues", "next head tail busy tag vtime vstamp ps_event")

# Pool-event kinds (``events.kind``).
K_ADD = 1
K_REMOVE = 2
K_WEIGHT = 3
K_THRESHOLDS = 4
K_FAIL = 5
K_RECOVER = 6

# Insertion policies (``config.insertion``), as Pool's "head", "tail", "address".
I_HEAD = 0
I_TAIL = 1
I_ADDRESS = 2
INSERTIONS = {"head": I_HEAD, "tail": I_TAIL, "address": I_ADDRESS}

# Service models.
S_INFINITE = 0
S_FIFO = 1
S_PS = 2

# Life cycles.
L_SIMPLE = 0
L_TCP = 1

# Connection-event kinds (low 3 bits of a heap payload; the connection is payload >> 3).
C_END = 0  # infinite server, simple life cycle: unbind
C_DEPART = 1  # FIFO: unbind; the backend's next queued connection starts service
C_ESTAB = 2  # TCP: inactive -> active; CLOSE at the end of the lifetime
C_CLOSE = 3  # TCP: active -> inactive; LEAVE after linger
C_LEAVE = 4  # TCP: unbind (inactive)
C_PSDEP = 5  # processor sharing: the job with the least finish tag leaves (stale if superseded)

# Samples: meta slots (int64) and fmeta slots (float64).
SAMPLES_TAKEN = 0
SAMPLE_DT = 0

# ``progress`` slots (int64: where the loop is, and what it counted so far); ``clock[0]`` is
# the time of the latest event.
P_ARRIVALS = 0  # arrivals handled
P_POOL_EVENTS = 1  # pool events applied
P_EVENTS = 2  # events processed (arrivals + connection events + pool events)
P_CONN_EVENTS = 3
P_DROPS = 4
P_MAX_PENDING = 5  # most connection events pending at once
N_PROGRESS = 6


# -- samples ------------------------------------------------------------------------------------
@kernel(refcount=False)
def take_samples(samples, table, t, inclusive):
    """Record the counters at every sample time before ``t`` (or at it, with ``inclusive``).

    The rows are bounded: when they are full, every other sample is dropped
    and the step doubles, so the kept samples stay evenly spaced from 0.
    """
    active = samples.active
    inactive = samples.inactive
    rows = active.shape[0]
    k = samples.meta[SAMPLES_TAKEN]
    dt = samples.fmeta[SAMPLE_DT]
    while k * dt < t or (inclusive and k * dt <= t):
        if k == rows:
            half = rows // 2
            for r in range(half):
                for b in range(active.shape[1]):
                    active[r, b] = active[2 * r, b]
                    inactive[r, b] = inactive[2 * r, b]
            k = half
            dt *= 2.0
            continue
        for b in range(table[HEADER, IDS]):
            s = table[SLOT, b]
            active[k, b] = table[ACTIVE, s]
            inactive[k, b] = table[INACTIVE, s]
        k += 1
    samples.meta[SAMPLES_TAKEN] = k
    samples.fmeta[SAMPLE_DT] = dt


# -- pool events ----------------------------------------------------------------------------------
@kernel(refcount=False)
def insertion_slot(table, events, insertion, backend):
    """Return where a new backend goes: the head, the tail, or in endpoint order.

    In endpoint order it goes before the first listed backend whose endpoint string
    sorts after its own (kube-proxy's order).
    """
    n = table[HEADER, LISTED]
    slot = 0
    if insertion == I_TAIL:
        slot = n
    elif insertion == I_ADDRESS:
        rank = events.rank
        slot = n
        for s in range(n):
            if rank[table[BACKEND, s]] > rank[backend]:
                slot = s
                break
    return slot


@kernel(refcount=False)
def apply_pool_event(changed, sched, events, config, j):
    """Apply pool event ``j`` with the table's edit kernels, then run the scheduler's hook."""
    table = sched.table
    kind = events.kind[j]
    b = events.backend[j]
    if kind == K_ADD:
        slot = insertion_slot(table, events, config.insertion, b)
        insert_backend(table, slot, events.weight[j], events.upper[j], events.lower[j])
        event = EV_ADD
    elif kind == K_REMOVE:
        slot = remove_backend(table, b)
        event = EV_DELETE
    elif kind == K_WEIGHT:
        slot = set_weight(table, b, events.weight[j])
        event = EV_UPDATE
    elif kind == K_THRESHOLDS:
        slot = set_thresholds(table, b, events.upper[j], events.lower[j])
        event = EV_UPDATE
    elif kind == K_FAIL:
        slot = fail_backend(table, b)
        event = EV_UPDATE
    else:  # K_RECOVER
        slot = recover_backend(table, b)
        event = EV_UPDATE
    events.weight_after[j] = table[WEIGHT, table[SLOT, b]]
    changed(table, sched.state, sched.fstate, event, slot)
    if config.persist:
        affinity_changed(table, sched.aff)


# -- connection events ----------------------------------------------------------------------------
@kernel(inline="always")
def moved(changed, sched, config, b):
    """Tell a scheduler that watches the counters that backend ``b``'s moved."""
    if config.watches:
        changed(sched.table, sched.state, sched.fstate, EV_COUNTERS, b)


@kernel(inline="always")
def on_connection_event(changed, sched, conns, service, config, queues, heap, payload, t):
    """One connection event (see the C_* kinds); may schedule the connection's next one."""
    htimes, hseqs, hpay, hmeta = heap
    table = sched.table
    c = payload >> 3
    kind = payload & 7
    b = conns.backend[c]
    active = config.count_mode == COUNT_ACTIVE
    if kind == C_END:
        unbind(table, b, active)
        moved(changed, sched, config, b)
    elif kind == C_DEPART:
        unbind(table, b, active)
        moved(changed, sched, config, b)
        nxt = queues.head[b]
        if nxt >= 0:
            queues.head[b] = queues.next[nxt]
            if queues.head[b] < 0:
                queues.tail[b] = -1
            conns.start[nxt] = t
            done = t + conns.work[nxt] / service.speeds[b]
            conns.end[nxt] = done
            push(htimes, hseqs, hpay, hmeta, done, nxt * 8 + C_DEPART)
        else:
            queues.busy[b] -= 1
    elif kind == C_PSDEP:
        h = queues.head[b]
        jobs = queues.busy[b]
        queues.vtime[b] = queues.tag[h]
        queues.vstamp[b] = t
        queues.head[b] = queues.next[h]
        queues.busy[b] = jobs - 1
        conns.end[h] = t
        unbind(table, b, active)
        moved(changed, sched, config, b)
        if jobs > 1:
            h = queues.head[b]
            done = t + (queues.tag[h] - queues.vtime[b]) * (jobs - 1) / service.speeds[b]
            queues.ps_event[b] = push(htimes, hseqs, hpay, hmeta, done, h * 8 + C_PSDEP)
    elif kind == C_ESTAB:
        activate(table, b)
        moved(changed, sched, config, b)
        push(htimes, hseqs, hpay, hmeta, conns.end[c], c * 8 + C_CLOSE)
    elif kind == C_CLOSE:
        deactivate(table, b)
        moved(changed, sched, config, b)
        push(htimes, hseqs, hpay, hmeta, t + config.linger, c * 8 + C_LEAVE)
    else:  # C_LEAVE
        unbind(table, b, False)
        moved(changed, sched, config, b)


# -- arrivals, one handler per service model ------------------------------------------------------
@kernel(inline="always")
def decide(schedule, changed, sched, conns, config, c):
    """Return the scheduler's decision for connection ``c``, through the persistence layer when it is on."""
    if config.persist:
        return persist_schedule(schedule, changed, sched.table, sched.state, sched.fstate, sched.aff,
                                conns.keys, conns.arrival, conns.backend, c, c + 1, config.count_mode,
                                config.watches, sched.inner_key)
    return schedule(sched.table, sched.state, sched.fstate, conns.keys, conns.arrival, conns.backend, c,
                    c + 1, config.count_mode)


@kernel(inline="always")
def arrive_infinite(conns, config, heap, c, b, t):
    """Infinite server: open for its lifetime (simple life cycle) or the IPVS TCP life cycle."""
    htimes, hseqs, hpay, hmeta = heap
    if config.lifecycle == L_TCP:
        opened = t + config.establish
        if config.store_start:
            conns.start[c] = opened
        if config.establish == np.inf:  # never established (UDP): leaves after its lifetime
            conns.end[c] = t + conns.work[c]
            push(htimes, hseqs, hpay, hmeta, t + conns.work[c] + config.linger, c * 8 + C_LEAVE)
        else:
            conns.end[c] = opened + conns.work[c]
            push(htimes, hseqs, hpay, hmeta, opened, c * 8 + C_ESTAB)
    else:
        if config.store_start:
            conns.start[c] = t
        done = t + conns.work[c]
        conns.end[c] = done
        push(htimes, hseqs, hpay, hmeta, done, c * 8 + C_END)


@kernel(inline="always")
def arrive_fifo(conns, service, queues, heap, c, b, t):
    """FIFO: start service on an idle server, or join the backend's queue."""
    htimes, hseqs, hpay, hmeta = heap
    if queues.busy[b] < service.servers[b]:
        queues.busy[b] += 1
        conns.start[c] = t
        done = t + conns.work[c] / service.speeds[b]
        conns.end[c] = done
        push(htimes, hseqs, hpay, hmeta, done, c * 8 + C_DEPART)
    else:
        queues.next[c] = -1
        if queues.tail[b] >= 0:
            queues.next[queues.tail[b]] = c
        else:
            queues.head[b] = c
        queues.tail[b] = c


@kernel(inline="always")
def arrive_ps(conns, service, queues, heap, c, b, t):
    """Processor sharing: advance the backend's virtual time, insert the job by finish tag."""
    htimes, hseqs, hpay, hmeta = heap
    conns.start[c] = t
    jobs = queues.busy[b]
    if jobs > 0:
        queues.vtime[b] += (t - queues.vstamp[b]) * service.speeds[b] / jobs
    queues.vstamp[b] = t
    tag = queues.vtime[b] + conns.work[c]
    queues.tag[c] = tag
    prev = -1
    cur = queues.head[b]
    while cur >= 0 and queues.tag[cur] <= tag:  # equal tags leave in arrival order
        prev = cur
        cur = queues.next[cur]
    queues.next[c] = cur
    if prev < 0:
        queues.head[b] = c
    else:
        queues.next[prev] = c
    queues.busy[b] = jobs + 1
    h = queues.head[b]
    done = t + (queues.tag[h] - queues.vtime[b]) * (jobs + 1) / service.speeds[b]
    queues.ps_event[b] = push(htimes, hseqs, hpay, hmeta, done, h * 8 + C_PSDEP)


def new_queues(n: int, capacity: int, model: int) -> Queues:
    """Return the per-backend queue arrays a service model needs (empty ones for the others)."""
    queued = model in (S_FIFO, S_PS)
    return Queues(next=np.empty(n if queued else 0, dtype=np.int64),
                  head=np.full(capacity, -1, dtype=np.int64), tail=np.full(capacity, -1, dtype=np.int64),
                  busy=np.zeros(capacity, dtype=np.int64),
                  tag=np.empty(n if model == S_PS else 0, dtype=np.float64),
                  vtime=np.zeros(capacity, dtype=np.float64), vstamp=np.zeros(capacity, dtype=np.float64),
                  ps_event=np.full(capacity, -1, dtype=np.int64))


# -- the loop ---------------------------------------------------------------------------------------
@kernel(refcount=False)
def run(schedule, changed, sched, conns, events, service, config, samples, queues, heap, progress, clock):
    """Run the simulation from where ``progress`` says until it ends or the heap is full.

    Fills ``conns.backend/start/end``, ``events.weight_after``, ``samples``
    and ``progress``. Returns False when it stopped because the heap needs
    more room: the caller grows the heap arrays and calls again, and the run
    continues exactly where it stopped. (Growing here would need Numba's
    reference counting, which costs the whole loop about 2x.)
    """
    n = conns.arrival.shape[0]
    m = events.time.shape[0]
    htimes, hseqs, hpay, hmeta = heap
    room = htimes.shape[0]
    sampling = samples.fmeta[SAMPLE_DT] > 0
    ps = config.model == S_PS
    inf = np.inf
    i = progress[P_ARRIVALS]
    j = progress[P_POOL_EVENTS]
    finished = True
    while True:
        size = hmeta[SIZE]
        if (ps and size > 0 and hpay[0] & 7 == C_PSDEP
                and hseqs[0] != queues.ps_event[conns.backend[hpay[0] >> 3]]):
            pop(htimes, hseqs, hpay, hmeta)  # stale: the backend's job count changed since
            continue
        ta = conns.arrival[i] if i < n else inf
        tp = events.time[j] if j < m else inf
        th = htimes[0] if size > 0 else inf
        if i >= n and j >= m and size == 0:
            break
        if size + 2 > room:  # every step pushes at most one entry
            finished = False
            break
        t = th
        if tp < t:
            t = tp
        if ta < t:
            t = ta
        if sampling:
            # samples strictly before t see every event up to them
            take_samples(samples, sched.table, t, False)
        clock[0] = t
        progress[P_EVENTS] += 1
        if size > 0 and th <= tp and th <= ta:
            payload = pop(htimes, hseqs, hpay, hmeta)
            progress[P_CONN_EVENTS] += 1
            on_connection_event(changed, sched, conns, service, config, queues, heap, payload, t)
        elif j < m and tp <= ta:
            apply_pool_event(changed, sched, events, config, j)
            j += 1
        else:
            c = i
            i += 1
            b = decide(schedule, changed, sched, conns, config, c)
            if b < 0:
                progress[P_DROPS] += 1
                if config.store_start:
                    conns.start[c] = np.nan
                conns.end[c] = np.nan
            elif config.model == S_FIFO:
                arrive_fifo(conns, service, queues, heap, c, b, t)
            elif ps:
                arrive_ps(conns, service, queues, heap, c, b, t)
            else:
                arrive_infinite(conns, config, heap, c, b, t)
    progress[P_ARRIVALS] = i
    progress[P_POOL_EVENTS] = j
    progress[P_MAX_PENDING] = hmeta[MAX_SIZE]
    if finished and sampling:
        take_samples(samples, sched.table, clock[0], True)
    return finished

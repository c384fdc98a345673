"""The compiled discrete-event loop behind :func:`lbalgo.simulate`.

One kernel, :func:`run`, serves every scheduler: it receives the scheduler's
``pick``, ``changed`` and ``touch`` kernels as function arguments (Numba specialises it
per pair, as ``schedule_batch`` is) and calls them directly, so nothing per
event crosses into Python. Inputs are plain arrays prepared and validated by
:mod:`lbalgo.sim`; the kernels trust them.

Three event streams are merged in ``(time, priority, sequence)`` order::

    priority 0  connection events, from a binary heap keyed (time, seq):
                end / departure / establish / close / leave
    priority 1  pool events, in the given order (sorted by time, stable)
    priority 2  arrivals, in trace order (times are non-decreasing)
    priority 3  samples of the counters at t = k * dt (after everything at t)

``touch(table, order, state, backend)`` is called after every counter move
the engine makes outside ``pick`` (end, departure, establish, close, leave),
for schedulers that index the counters (``LC(index="tree")``); the default
:func:`lbalgo.schedulers.base.no_touch` does nothing. (A pick's own ``bind`` is seen by such a
scheduler at its next pick.)

``seq`` is the heap's insertion counter, so equal-time connection events
leave in the order they were scheduled, as in SimPy's
``(time, priority, eid)`` queue.

Connection events (``kind`` in the low 3 bits of the heap payload)::

    END      infinite server, simple life cycle: unbind(as_active)
    DEPART   FIFO: unbind(as_active); the backend's next queued
             connection starts service (or a server goes idle)
    ESTAB    TCP life cycle: inactive -> active; schedule CLOSE
    CLOSE    TCP life cycle: active -> inactive; schedule LEAVE at +linger
    LEAVE    TCP life cycle: unbind(inactive)
    PSDEP    processor sharing: the backend's job with the least finish tag
             leaves (stale if the backend's job count changed since)

Processor sharing keeps, per backend, a virtual time ``V`` (work served so
far to each job present: ``dV/dt = speed / jobs``) and its jobs sorted by
finish tag ``V(arrival) + work``. Only the head's departure is scheduled;
every arrival or departure at the backend schedules a fresh one and the
older event becomes stale (skipped, not counted).
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .._table import (
    ACTIVE,
    EV_ADD,
    EV_DELETE,
    EV_UPDATE,
    F_AVAILABLE,
    F_OVERLOAD,
    FLAGS,
    INACTIVE,
    L_THRESHOLD,
    LAST_WEIGHT,
    N_FIELDS,
    U_THRESHOLD,
    WEIGHT,
    bind,
    list_insert,
    list_remove,
    unbind,
)

# Pool-event kinds (``ev_kind``), prepared by lbalgo.sim.events.
K_ADD = 1
K_REMOVE = 2
K_WEIGHT = 3
K_THRESHOLDS = 4

# Service models.
S_INFINITE = 0
S_FIFO = 1
S_PS = 2

# Life cycles.
L_SIMPLE = 0
L_TCP = 1

# Connection-event kinds (low 3 bits of the heap payload).
C_END = 0
C_DEPART = 1
C_ESTAB = 2
C_CLOSE = 3
C_LEAVE = 4
C_PSDEP = 5

# Indices of ``stats`` (the kernel's counters, returned to Python).
ST_EVENTS = 0
ST_ARRIVALS = 1
ST_DROPS = 2
ST_CONN_EVENTS = 3
ST_POOL_EVENTS = 4
ST_MAX_HEAP = 5
N_STATS = 6


@kernel
def _grow(htime, hseq, hval):
    """Return the heap arrays with twice the room."""
    n = htime.shape[0]
    t = np.empty(2 * n, dtype=np.float64)
    q = np.empty(2 * n, dtype=np.int64)
    v = np.empty(2 * n, dtype=np.int64)
    t[:n] = htime
    q[:n] = hseq
    v[:n] = hval
    return t, q, v


@kernel
def _grow_samples(active, inactive):
    """Return the sample arrays with twice the rows."""
    n = active.shape[0]
    a = np.zeros((2 * n, active.shape[1]), dtype=np.int32)
    b = np.zeros((2 * n, active.shape[1]), dtype=np.int32)
    a[:n] = active
    b[:n] = inactive
    return a, b


@kernel(refcount=False)
def heap_push(htime, hseq, hval, size, t, seq, val):
    """Add one entry to a heap of ``size`` entries (room is checked by the caller)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        pt = htime[parent]
        if pt < t or (pt == t and hseq[parent] < seq):
            break
        htime[i] = pt
        hseq[i] = hseq[parent]
        hval[i] = hval[parent]
        i = parent
    htime[i] = t
    hseq[i] = seq
    hval[i] = val


@kernel(refcount=False)
def heap_pop(htime, hseq, hval, size):
    """Remove the root of a heap of ``size`` >= 1 entries; return its payload."""
    top = hval[0]
    size -= 1
    if size > 0:
        t = htime[size]
        seq = hseq[size]
        val = hval[size]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= size:
                break
            right = child + 1
            if right < size and (htime[right] < htime[child]
                                 or (htime[right] == htime[child] and hseq[right] < hseq[child])):
                child = right
            ct = htime[child]
            if t < ct or (t == ct and seq < hseq[child]):
                break
            htime[i] = ct
            hseq[i] = hseq[child]
            hval[i] = hval[child]
            i = child
        htime[i] = t
        hseq[i] = seq
        hval[i] = val
    return top


@kernel(inline="always")
def run(pick, changed, touch, table, order, state,
        arrival, work, keys,
        ev_time, ev_kind, ev_backend, ev_pos, ev_a, ev_b, ev_c,
        service, lifecycle, as_active, servers, speeds, establish, linger,
        sample_dt, backend_out, start_out, end_out, stats):
    """Run the whole simulation; fills the ``*_out`` arrays and ``stats``.

    ``arrival``/``work``/``keys`` are float64/float64/int64[n];
    ``ev_*`` describe pool events (time-sorted), ``ev_pos`` the list position
    the Python pool would use; ``servers`` int64[capacity] and ``speeds``
    float64[capacity] describe FIFO backends; ``start_out`` is empty when
    start times equal arrival times (infinite server, simple life cycle).

    With ``sample_dt > 0`` the counters are sampled at every ``t = k * dt``
    up to the time of the last event; returns ``(active, inactive)`` samples
    as int32[k, capacity] arrays (0 rows without sampling).
    """
    n = arrival.shape[0]
    m = ev_time.shape[0]
    capacity = table.shape[0]
    sampling = sample_dt > 0
    samples_active = np.zeros((64 if sampling else 0, capacity), dtype=np.int32)
    samples_inactive = np.zeros((64 if sampling else 0, capacity), dtype=np.int32)
    store_start = start_out.shape[0] > 0
    inf = np.inf

    cap = 1024
    htime = np.empty(cap, dtype=np.float64)
    hseq = np.empty(cap, dtype=np.int64)
    hval = np.empty(cap, dtype=np.int64)
    hsize = 0
    seq = 0

    # FIFO queues: a singly linked list through connection indices per backend.
    fifo = service == S_FIFO
    ps = service == S_PS
    qn = n if fifo or ps else 0
    qnext = np.empty(qn, dtype=np.int64)
    qhead = np.empty(capacity, dtype=np.int64)
    qtail = np.empty(capacity, dtype=np.int64)
    busy = np.empty(capacity, dtype=np.int64)
    # Processor sharing: finish tags, virtual time, its last update, latest departure event.
    ps_tag = np.empty(n if ps else 0, dtype=np.float64)
    vtime = np.zeros(capacity, dtype=np.float64)
    vstamp = np.zeros(capacity, dtype=np.float64)
    ps_event = np.empty(capacity, dtype=np.int64)
    for b in range(capacity):
        qhead[b] = -1
        qtail[b] = -1
        busy[b] = 0
        ps_event[b] = -1

    i = 0
    j = 0
    k = 0
    last = 0.0
    events = 0
    drops = 0
    conn_events = 0
    max_heap = 0
    while True:
        if ps and hsize > 0 and hval[0] & 7 == C_PSDEP and hseq[0] != ps_event[backend_out[hval[0] >> 3]]:
            heap_pop(htime, hseq, hval, hsize)  # stale: the backend's job count changed since
            hsize -= 1
            continue
        ta = arrival[i] if i < n else inf
        tp = ev_time[j] if j < m else inf
        th = htime[0] if hsize > 0 else inf
        if i >= n and j >= m and hsize == 0:
            break
        t = th
        if tp < t:
            t = tp
        if ta < t:
            t = ta
        # Samples strictly before t see every event up to their own time.
        while sampling and k * sample_dt < t:
            if k == samples_active.shape[0]:
                samples_active, samples_inactive = _grow_samples(samples_active, samples_inactive)
            for b in range(capacity):
                samples_active[k, b] = table[b, ACTIVE]
                samples_inactive[k, b] = table[b, INACTIVE]
            k += 1
        last = t
        events += 1
        if hsize > 0 and th <= tp and th <= ta:
            val = heap_pop(htime, hseq, hval, hsize)
            hsize -= 1
            conn_events += 1
            c = val >> 3
            kind = val & 7
            b = backend_out[c]
            if kind == C_END:
                unbind(table, b, as_active)
                touch(table, order, state, b)
            elif kind == C_DEPART:
                unbind(table, b, as_active)
                touch(table, order, state, b)
                nxt = qhead[b]
                if nxt >= 0:
                    qhead[b] = qnext[nxt]
                    if qhead[b] < 0:
                        qtail[b] = -1
                    start_out[nxt] = t
                    done = t + work[nxt] / speeds[b]
                    end_out[nxt] = done
                    if hsize == htime.shape[0]:
                        htime, hseq, hval = _grow(htime, hseq, hval)
                    heap_push(htime, hseq, hval, hsize, done, seq, nxt * 8 + C_DEPART)
                    hsize += 1
                    seq += 1
                else:
                    busy[b] -= 1
            elif kind == C_PSDEP:
                h = qhead[b]
                jobs = busy[b]
                vtime[b] = ps_tag[h]
                vstamp[b] = t
                qhead[b] = qnext[h]
                busy[b] = jobs - 1
                end_out[h] = t
                unbind(table, b, as_active)
                touch(table, order, state, b)
                if jobs > 1:
                    h = qhead[b]
                    done = t + (ps_tag[h] - vtime[b]) * (jobs - 1) / speeds[b]
                    if hsize == htime.shape[0]:
                        htime, hseq, hval = _grow(htime, hseq, hval)
                    heap_push(htime, hseq, hval, hsize, done, seq, h * 8 + C_PSDEP)
                    ps_event[b] = seq
                    hsize += 1
                    seq += 1
            elif kind == C_ESTAB:
                table[b, INACTIVE] -= 1
                table[b, ACTIVE] += 1
                touch(table, order, state, b)
                if hsize == htime.shape[0]:
                    htime, hseq, hval = _grow(htime, hseq, hval)
                heap_push(htime, hseq, hval, hsize, end_out[c], seq, c * 8 + C_CLOSE)
                hsize += 1
                seq += 1
            elif kind == C_CLOSE:
                table[b, ACTIVE] -= 1
                table[b, INACTIVE] += 1
                touch(table, order, state, b)
                if hsize == htime.shape[0]:
                    htime, hseq, hval = _grow(htime, hseq, hval)
                heap_push(htime, hseq, hval, hsize, t + linger, seq, c * 8 + C_LEAVE)
                hsize += 1
                seq += 1
            else:  # C_LEAVE
                unbind(table, b, False)
                touch(table, order, state, b)
        elif j < m and tp <= ta:
            kind = ev_kind[j]
            b = ev_backend[j]
            pos = ev_pos[j]
            if kind == K_ADD:
                for f in range(N_FIELDS):
                    table[b, f] = 0
                table[b, WEIGHT] = ev_a[j]
                table[b, LAST_WEIGHT] = ev_a[j]
                table[b, U_THRESHOLD] = ev_b[j]
                table[b, L_THRESHOLD] = ev_c[j]
                table[b, FLAGS] = F_AVAILABLE
                list_insert(order, pos, b)
                changed(table, order, state, EV_ADD, pos)
            elif kind == K_REMOVE:
                list_remove(order, pos)
                table[b, FLAGS] &= ~F_AVAILABLE
                changed(table, order, state, EV_DELETE, pos)
            elif kind == K_WEIGHT:
                table[b, WEIGHT] = ev_a[j]
                if ev_a[j] != 0:
                    table[b, LAST_WEIGHT] = ev_a[j]
                changed(table, order, state, EV_UPDATE, pos)
            else:  # K_THRESHOLDS, as Pool.set_thresholds
                old = table[b, U_THRESHOLD]
                table[b, U_THRESHOLD] = ev_b[j]
                table[b, L_THRESHOLD] = ev_c[j]
                if ev_b[j] == 0 or ev_b[j] > old:
                    table[b, FLAGS] &= ~F_OVERLOAD
                changed(table, order, state, EV_UPDATE, pos)
            j += 1
        else:
            c = i
            i += 1
            b = pick(table, order, state, keys[c], t)
            backend_out[c] = b
            if b < 0:
                drops += 1
                if store_start:
                    start_out[c] = np.nan
                end_out[c] = np.nan
                continue
            if hsize == htime.shape[0]:
                htime, hseq, hval = _grow(htime, hseq, hval)
            if lifecycle == L_TCP:
                bind(table, b, False)
                opened = t + establish
                if store_start:
                    start_out[c] = opened
                end_out[c] = opened + work[c]
                if establish == inf:  # never established (UDP): leaves after its lifetime
                    end_out[c] = t + work[c]
                    heap_push(htime, hseq, hval, hsize, t + work[c] + linger, seq, c * 8 + C_LEAVE)
                else:
                    heap_push(htime, hseq, hval, hsize, opened, seq, c * 8 + C_ESTAB)
                hsize += 1
                seq += 1
            elif ps:
                bind(table, b, as_active)
                start_out[c] = t
                jobs = busy[b]
                if jobs > 0:
                    vtime[b] += (t - vstamp[b]) * speeds[b] / jobs
                vstamp[b] = t
                tag = vtime[b] + work[c]
                ps_tag[c] = tag
                prev = -1
                cur = qhead[b]
                while cur >= 0 and ps_tag[cur] <= tag:  # equal tags leave in arrival order
                    prev = cur
                    cur = qnext[cur]
                qnext[c] = cur
                if prev < 0:
                    qhead[b] = c
                else:
                    qnext[prev] = c
                busy[b] = jobs + 1
                h = qhead[b]
                done = t + (ps_tag[h] - vtime[b]) * (jobs + 1) / speeds[b]
                heap_push(htime, hseq, hval, hsize, done, seq, h * 8 + C_PSDEP)
                ps_event[b] = seq
                hsize += 1
                seq += 1
            elif fifo:
                bind(table, b, as_active)
                if busy[b] < servers[b]:
                    busy[b] += 1
                    start_out[c] = t
                    done = t + work[c] / speeds[b]
                    end_out[c] = done
                    heap_push(htime, hseq, hval, hsize, done, seq, c * 8 + C_DEPART)
                    hsize += 1
                    seq += 1
                else:
                    qnext[c] = -1
                    if qtail[b] >= 0:
                        qnext[qtail[b]] = c
                    else:
                        qhead[b] = c
                    qtail[b] = c
            else:
                bind(table, b, as_active)
                if store_start:
                    start_out[c] = t
                done = t + work[c]
                end_out[c] = done
                heap_push(htime, hseq, hval, hsize, done, seq, c * 8 + C_END)
                hsize += 1
                seq += 1
            if hsize > max_heap:
                max_heap = hsize
    while sampling and k * sample_dt <= last:
        if k == samples_active.shape[0]:
            samples_active, samples_inactive = _grow_samples(samples_active, samples_inactive)
        for b in range(capacity):
            samples_active[k, b] = table[b, ACTIVE]
            samples_inactive[k, b] = table[b, INACTIVE]
        k += 1
    stats[ST_EVENTS] = events
    stats[ST_ARRIVALS] = n
    stats[ST_DROPS] = drops
    stats[ST_CONN_EVENTS] = conn_events
    stats[ST_POOL_EVENTS] = m
    stats[ST_MAX_HEAP] = max_heap
    return samples_active[:k], samples_inactive[:k]

"""The event loop's binary heap of connection events, ordered by (time, sequence).

Three parallel arrays hold the entries: ``times`` (float64), ``seqs`` (int64,
the insertion counter, so equal times leave in the order they were
scheduled, as in SimPy's ``(time, priority, eid)`` queue) and ``payloads``
(int64: ``connection * 8 + kind``). ``meta`` holds the size and the next
sequence number. The caller grows the arrays (:func:`grown`) before an
insertion could overflow them; the event loop stops and asks for it.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel

# meta slots
SIZE, SEQ, MAX_SIZE = 0, 1, 2
N_META = 3


def new_heap(capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Empty heap arrays ``(times, seqs, payloads, meta)`` with room for ``capacity`` entries."""
    capacity = max(16, capacity)
    return (np.empty(capacity, dtype=np.float64), np.empty(capacity, dtype=np.int64),
            np.empty(capacity, dtype=np.int64), np.zeros(N_META, dtype=np.int64))


def grown(heap: tuple) -> tuple:
    """Return the heap with its arrays copied into twice the room (the same meta)."""
    times, seqs, payloads, meta = heap
    n = len(times)
    out = (np.empty(2 * n, dtype=np.float64), np.empty(2 * n, dtype=np.int64),
           np.empty(2 * n, dtype=np.int64))
    for new, old in zip(out, (times, seqs, payloads)):
        new[:n] = old
    return out + (meta,)


@kernel(inline="always")
def push(times, seqs, payloads, meta, t, payload):
    """Add one entry with time ``t``; its sequence number is the next one."""
    seq = meta[SEQ]
    meta[SEQ] = seq + 1
    i = meta[SIZE]
    meta[SIZE] = i + 1
    if i + 1 > meta[MAX_SIZE]:
        meta[MAX_SIZE] = i + 1
    while i > 0:
        parent = (i - 1) >> 1
        pt = times[parent]
        if pt < t or (pt == t and seqs[parent] < seq):
            break
        times[i] = pt
        seqs[i] = seqs[parent]
        payloads[i] = payloads[parent]
        i = parent
    times[i] = t
    seqs[i] = seq
    payloads[i] = payload
    return seq


@kernel(inline="always")
def pop(times, seqs, payloads, meta):
    """Remove the earliest entry (the heap must not be empty); return its payload."""
    top = payloads[0]
    size = meta[SIZE] - 1
    meta[SIZE] = size
    if size > 0:
        t = times[size]
        seq = seqs[size]
        val = payloads[size]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= size:
                break
            right = child + 1
            if right < size and (times[right] < times[child]
                                 or (times[right] == times[child] and seqs[right] < seqs[child])):
                child = right
            ct = times[child]
            if t < ct or (t == ct and seq < seqs[child]):
                break
            times[i] = ct
            seqs[i] = seqs[child]
            payloads[i] = payloads[child]
            i = child
        times[i] = t
        seqs[i] = seq
        payloads[i] = val
    return top

"""dh: destination hashing, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_dh.c``).

State: a table of ``2**bits`` buckets (default 256). ::

    rebuild():                          (on add and delete only)
        bucket i = the (i mod n)-th backend in list order; weights are ignored
        empty list: every bucket empty

    pick(addr):
        b = bucket[hash_32(addr, bits)]
        b empty, removed, weight <= 0 or overloaded: nothing (no fallback)

The key is the packet's *destination* address (IPv6 folded by XOR of its
words, as sh does); ports never count, so the port part of a key is
ignored. For an ordinary virtual service every packet has the same
destination and one backend gets everything: dh is meant for transparent
cache clusters. Weight edits do not rebuild the table; they cannot change
it anyway, since the layout ignores weights.
"""

from __future__ import annotations

import numpy as np

from .._hash import M32, hash_32
from .._jit import kernel
from .._table import EV_ADD, EV_DELETE, F_AVAILABLE, F_OVERLOAD, FLAGS, WEIGHT, bind
from .base import schedule_one
from .registry import register
from .sh import BITS, HashScheduler, _table_bits


@kernel(inline="always")
def _dh_decide(table, buckets, key, bits):
    """The backend for one key (-1: none); shared by ``dh_pick`` and the batch loop."""
    backend = buckets[hash_32(key & M32, bits)]
    # Branch-free checks (an empty bucket reads row 0 harmlessly).
    row = backend if backend >= 0 else 0
    flags = table[row, FLAGS]
    ok = (backend >= 0) & (flags & F_AVAILABLE != 0) & (table[row, WEIGHT] > 0) & (flags & F_OVERLOAD == 0)
    return backend if ok else -1


@kernel(refcount=False)
def dh_pick(table, order, state, key, now):
    """``state`` = (buckets int64[2**bits], meta int64[4]); the port half of ``key`` is ignored."""
    return _dh_decide(table, state[0], key, state[1][BITS])


@kernel
def dh_changed(table, order, state, event, pos):
    """On add / delete: bucket i = i-th backend modulo n in list order."""
    if event != EV_ADD and event != EV_DELETE:
        return
    buckets = state[0]
    n = order[0]
    if n == 0:
        buckets[:] = -1
        return
    p = 1
    for i in range(buckets.shape[0]):
        buckets[i] = order[p]
        p = p + 1 if p < n else 1


@kernel
def _dh_one(table, order, state, key, now, as_active):
    return schedule_one(dh_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _dh_loop(table, state, keys, n, as_active, count, out):
    """``dh_pick`` for ``n`` keys (key 0 when ``keys`` is empty), binding if ``count``."""
    buckets = state[0]
    bits = state[1][BITS]
    have_keys = keys.shape[0] > 0
    for i in range(n):
        key = keys[i] if have_keys else 0
        chosen = _dh_decide(table, buckets, key, bits)
        if chosen >= 0 and count:
            bind(table, chosen, as_active)
        out[i] = chosen


@kernel
def _dh_batch(table, order, state, keys, times, now, as_active, out):
    _dh_loop(table, state, keys, out.shape[0], as_active, True, out)


@kernel
def _dh_lookup(table, order, state, keys, out):
    _dh_loop(table, state, keys, out.shape[0], False, False, out)


@register
class DH(HashScheduler):
    """Destination hashing (IPVS ``dh``): one bucket per backend per cycle, weights ignored.

    Parameters
    ----------
    weights : sequence of int
        Backend weights: only weight 0 (quiesced: its destinations are
        refused) versus non-zero matters.
    table_bits : int
        log2 of the table size (``CONFIG_IP_VS_DH_TAB_BITS``, 4..20, default 8).
    """

    name = "dh"
    summary = "destination hashing: 256 buckets round robin over the list, destination address hashed"
    source = "Linux IPVS ip_vs_dh.c"

    _pick = dh_pick
    _changed = dh_changed
    _schedule_one = _dh_one
    _schedule_batch = _dh_batch
    _lookup = _dh_lookup

    def __init__(self, weights=None, *, table_bits: int = 8, **options) -> None:
        self.table_bits = _table_bits(table_bits)
        super().__init__(weights, **options)

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        buckets = np.full(1 << self.table_bits, -1, dtype=np.int64)
        meta = np.array([self.table_bits, 0, 0, 0], dtype=np.int64)
        state = (buckets, meta)
        self._changed(self.pool.table, self.pool.order, state, EV_ADD, 0)
        return state

    @property
    def buckets(self) -> np.ndarray:
        """Backend id per bucket, -1 for an empty bucket (read-only)."""
        v = self.state[0].view()
        v.flags.writeable = False
        return v

"""dh: destination hashing, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_dh.c``).

State: a table of ``2**bits`` buckets (default 256). ::

    rebuild():                          (on add and delete only)
        bucket i = the backend at list slot i mod n; weights are ignored
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

The state has the layout of sh's (:mod:`.sh`): ``BITS``, then the buckets
from ``BUCKETS`` on; ``PORT`` and ``FALLBACK`` stay 0.
"""

from __future__ import annotations

import numpy as np

from .._hash import M32, hash_32
from .._jit import kernel
from .._table import (
    BACKEND,
    COUNT_ACTIVE,
    EV_ADD,
    EV_DELETE,
    F_AVAILABLE,
    FLAGS,
    LOOKUP,
    SLOT,
    bind,
    listed,
    usable,
)
from .registry import register
from .sh import BITS, BUCKETS, HashScheduler, _bucket_state, _readonly, _table_bits, key_source


@kernel(signature="schedule", refcount=False)
def dh_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: BITS, then the buckets; the port half of a key is ignored."""
    bits = state[BITS]
    source = key_source(keys, out, first, last)
    backend = -1
    for i in range(first, last):
        u = np.uint64(i)  # unsigned: source[u] and out[u] compile without the negative-index fixup
        backend = state[BUCKETS + hash_32(source[u] & M32, bits)]
        if backend >= 0:
            s = table[SLOT, backend]
            # (s >= 0 always holds; saying so spares the compiled code the negative-index fixup.)
            if not (s >= 0 and table[FLAGS, s] & F_AVAILABLE and usable(table, s)):
                backend = -1
        if backend >= 0 and mode != LOOKUP:  # account(table, backend, mode), as in sh_schedule
            bind(table, backend, mode == COUNT_ACTIVE)
        out[u] = backend
    return backend


@kernel(signature="changed", refcount=False)
def dh_changed(table, state, fstate, event, where):
    """On add / delete: bucket i = the backend at slot i mod n."""
    if event != EV_ADD and event != EV_DELETE:
        return
    size = 1 << state[BITS]
    n = listed(table)
    if n == 0:
        for i in range(size):
            state[BUCKETS + i] = -1
        return
    s = 0
    for i in range(size):
        state[BUCKETS + i] = table[BACKEND, s]
        s = s + 1 if s + 1 < n else 0


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
    destination_keyed = True

    _schedule = dh_schedule
    _changed = dh_changed

    def __init__(self, weights=None, *, table_bits: int = 8, **options) -> None:
        self.table_bits = _table_bits(table_bits)
        super().__init__(weights, **options)

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        state = _bucket_state(self.table_bits, False, False)
        fstate = np.zeros(0, dtype=np.float64)
        self._changed.entry(self.pool.table, state, fstate, EV_ADD, 0)
        return state, fstate

    @property
    def buckets(self) -> np.ndarray:
        """Backend id per bucket, -1 for an empty bucket (read-only)."""
        return _readonly(self.state[BUCKETS:])

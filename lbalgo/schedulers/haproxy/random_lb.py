"""haproxy-random: ``balance random(<draws>)`` (``get_server_rnd`` in ``src/backend.c``).

::

    pick():
        tot_weight == 0: nothing
        curr = none
        repeat draws times (default 2):
            prev = curr
            curr = lookup(statistical_prng())        (the consistent-hash ring)
            if prev and prev != curr and
               curr.served * prev.eweight > prev.served * curr.eweight:
                curr = prev                          (keep the less loaded)
        if curr is at maxconn: nothing (HAProxy queues the request)

The ring is the one of ``hash-type consistent`` (:mod:`.chash`): 16 points
per weight unit at ``full_hash(id * 4096 + j)``, nearest point wins.
``statistical_prng`` is a 32-bit xorshift (13, 17, 5) per thread, starting
at 2463534242 + thread number * MAX_THREADS: it is not seeded from the
clock, so a single-threaded HAProxy makes the same draws after every start.
lbalgo starts it at ``2463534242 + seed`` (mod 2**32; 0 becomes 1):
``seed=0`` is HAProxy's first thread, decision for decision. Sources:
``get_server_rnd``, ``statistical_prng`` (``include/haproxy/tools.h``),
``init_tools_per_thread`` (``src/tools.c``), HAProxy 2.6.12.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..._jit import kernel
from ..._table import account
from ..registry import register
from ._base import HAProxyScheduler
from ._servers import ALGO, ID_EW, REGION_LEN, TOT_WEIGHT, at, is_full, served
from .chash import chash_changed_kernel, chash_lookup, fill_ring_header, relayout_ring, ring_need

M32 = 0xFFFFFFFF
PRNG_START = 2463534242
# header fields (after the ring's)
DRAWS = ALGO + 24
PRNG = ALGO + 25


@kernel(inline="always")
def statistical_prng(state):
    """HAProxy's ``statistical_prng``: xorshift32 (13, 17, 5) on ``state[PRNG]``."""
    x = state[PRNG]
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    state[PRNG] = x
    return x


@kernel(inline="always")
def random_pick(table, state):
    """``get_server_rnd`` (no server to avoid): a backend id or -1."""
    if state[TOT_WEIGHT] == 0:
        return -1
    curr = -1
    draws = state[DRAWS]
    while True:
        prev = curr
        curr = chash_lookup(state, statistical_prng(state))
        if curr < 0:
            break
        if prev >= 0 and prev != curr:
            # keep the previous draw when the new one serves more per unit of weight
            if served(table, curr) * state[at(state, ID_EW, prev)] > \
                    served(table, prev) * state[at(state, ID_EW, curr)]:
                curr = prev
        draws -= 1
        if draws <= 0:
            break
    if curr >= 0 and is_full(table, curr):
        curr = -1
    return curr


@kernel(signature="schedule", refcount=False)
def haproxy_random_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the HAProxy server layout, the ring, the generator at PRNG."""
    backend = -1
    for i in range(first, last):
        backend = account(table, random_pick(table, state), mode)
        out[i] = backend
    return backend


@kernel(signature="changed")
def haproxy_random_changed(table, state, fstate, event, where):
    """Apply the ring's runtime edits (see :mod:`.chash`)."""
    chash_changed_kernel(table, state, event, where)


@register
class HAProxyRandom(HAProxyScheduler):
    """HAProxy ``balance random(draws)``: the least loaded of ``draws`` random ring lookups.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256; see :class:`~lbalgo.schedulers.haproxy._base.HAProxyScheduler`
        for ``ids``, ``backup``, ``allbackups`` and ``maxconn``.
    draws : int
        Lookups per request (HAProxy's default: 2).
    seed : int
        Offset of the generator's start: 0 is a single-threaded HAProxy.
    """

    name = "haproxy-random"
    summary = "random ring lookups (xorshift32 from a fixed start), the least served/eweight of draws"
    source = "HAProxy 2.6 backend.c get_server_rnd"
    randomized = True

    _schedule = haproxy_random_schedule
    _changed = haproxy_random_changed

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *, draws: int = 2,
                 **options: Any) -> None:
        if isinstance(draws, (bool, np.bool_)) or not isinstance(draws, (int, np.integer)):
            raise TypeError(f"draws must be an integer, got {draws!r}")
        if not 1 <= int(draws) <= 1000:
            raise ValueError(f"draws must be in 1..1000, got {int(draws)}")
        self.draws = int(draws)
        super().__init__(weights, **options)

    def _fill_algo(self, state: np.ndarray) -> None:
        fill_ring_header(state)
        state[DRAWS] = self.draws
        start = (PRNG_START + self.seed) & M32
        state[PRNG] = start if start else 1

    def _region_need(self) -> int:
        pool = getattr(self, "pool", None)
        return 0 if pool is None else 2 * ring_need(pool)

    def _headroom(self) -> int:
        pool = self.pool
        top = int(np.minimum(pool.weights[pool.list_order], 256).max(initial=1))
        return 2 * 16 * top * (pool.capacity - len(pool))

    def _after_resize(self, old: np.ndarray, new: np.ndarray) -> None:
        if new[REGION_LEN] != old[REGION_LEN]:
            relayout_ring(old, new)

"""envoy-maglev: Envoy's MAGLEV (``maglev_lb.cc``, ``MaglevTable``, ``OriginalMaglevTable``).

::

    build (on every host-set change):     (MaglevTable::constructMaglevTableInternal)
        hosts = healthy hosts, or all hosts in panic; w_k = weight_k / sum(weights)
        sort the hosts by host key (bytewise)
        offset_k = xxHash64(key_k, seed 0) mod M; skip_k = xxHash64(key_k, seed 1) mod (M - 1) + 1
        target_k = 0; next_k = 0; table = M empty slots
        for iteration = 1, 2, ... while the table has empty slots:
            for each host k in key order, while empty slots remain:
                if iteration * w_k < target_k: skip it this round
                target_k += max_k w_k
                c = (offset_k + skip_k * next_k) mod M; while slot c is taken: next_k += 1, recompute
                slot c = host k; next_k += 1

    pick(h): table[h mod M]                (OriginalMaglevTable::chooseHost)

M is ``table_size``, a prime (default 65537). A host of the largest weight
claims a slot every round, one of a third of it every third round. Sorting
by key makes the table independent of host order (``BasicStability``).
Compared with IPVS ``mh`` (:mod:`lbalgo.schedulers.mh`): SipHash-1-3 of
``addr + port`` vs XXH64 of the ``"ip:port"`` text, M = 4093 vs 65537, list
order vs key order, weights by ``last_weight`` turns vs running targets,
quiesced backends keeping their slots in IPVS vs leaving the table here.
``hash_balance_factor`` (bounded loads) is not modelled.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..._jit import kernel
from ..._table import SLOT, account, item
from ..registry import register
from ._hash import NATIVE_U64, xxhash64
from ._hashing import KEY_BYTES, HashBalancer, host_key, request_hash
from ._hosts import (
    CLOCK,
    KEY_POLICY,
    N_ALL,
    N_HEALTHY,
    PANIC,
    R_ALL,
    R_HEALTHY,
    TABLE_AT,
    TABLE_SIZE,
    at,
    collect_hosts,
    envoy_weight,
    reciprocal,
    umod,
    umod_by,
)

DEFAULT_TABLE_SIZE = 65537
#: Envoy's limit on ``table_size`` (the proto's ``lte``).
MAX_TABLE_SIZE = 5000011


@kernel
def _key_less(keys, lengths, a, b):
    """Bytewise order of host keys a and b (rows of ``keys``); the list position breaks ties."""
    n = min(lengths[a], lengths[b])
    for t in range(n):
        if keys[a, t] != keys[b, t]:
            return keys[a, t] < keys[b, t]
    if lengths[a] != lengths[b]:
        return lengths[a] < lengths[b]
    return a < b


@kernel
def _sort_by_key(keys, lengths, n):
    """Return the indices 0..n-1 in host-key order (a merge sort: O(n log n) comparisons)."""
    order = np.arange(n)
    tmp = np.empty(n, dtype=np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _key_less(keys, lengths, order[j], order[i]):
                    tmp[k] = order[j]
                    j += 1
                else:
                    tmp[k] = order[i]
                    i += 1
                k += 1
            while i < mid:
                tmp[k] = order[i]
                i += 1
                k += 1
            while j < hi:
                tmp[k] = order[j]
                j += 1
                k += 1
        order, tmp = tmp, order
        width *= 2
    return order


@kernel(signature="changed")
def maglev_changed(table, state, fstate, event, where):
    """Rebuild the lookup table from the (healthy, or in panic all) hosts when the host set changed."""
    if not collect_hosts(table, state, fstate, fstate[CLOCK]):
        return
    m = state[TABLE_SIZE]
    slots = state[TABLE_AT]
    for j in range(m):
        state[slots + j] = -1
    panic = state[PANIC] != 0
    hosts = at(state, R_ALL) if panic else at(state, R_HEALTHY)
    n = state[N_ALL] if panic else state[N_HEALTHY]
    if n == 0:
        return
    keys = np.zeros((n, KEY_BYTES + 8), dtype=np.uint8)
    lengths = np.empty(n, dtype=np.int64)
    total = 0
    for k in range(n):
        lengths[k] = host_key(state, state[hosts + k], keys[k])
        total += envoy_weight(table, table[SLOT, state[hosts + k]])
    order = _sort_by_key(keys, lengths, n)
    ids = np.empty(n, dtype=np.int64)
    perm = np.empty(n, dtype=np.int64)
    skip = np.empty(n, dtype=np.int64)
    weight = np.empty(n, dtype=np.float64)
    target = np.zeros(n, dtype=np.float64)
    largest = 0.0
    for r in range(n):
        k = order[r]
        b = state[hosts + k]
        ids[r] = b
        perm[r] = umod(xxhash64(keys[k], 0, lengths[k], 0), m)
        skip[r] = umod(xxhash64(keys[k], 0, lengths[k], 1), m - 1) + 1
        w = envoy_weight(table, table[SLOT, b]) * 1.0 / total
        weight[r] = w
        if w > largest:
            largest = w
    taken = np.zeros(m, dtype=np.bool_)
    filled = 0
    iteration = 1
    while filled < m:
        r = 0
        while r < n and filled < m:
            if iteration * weight[r] < target[r]:
                r += 1
                continue
            target[r] += largest
            # perm[r] is offset + skip * next (mod M): advance it by skip per probe.
            c = perm[r]
            while taken[c]:
                c += skip[r]
                if c >= m:
                    c -= m
            taken[c] = True
            state[slots + c] = ids[r]
            c += skip[r]
            if c >= m:
                c -= m
            perm[r] = c
            filled += 1
            r += 1
        iteration += 1


@kernel(inline="always")
def umod_default_size(x):
    """:func:`umod` of ``x`` by ``DEFAULT_TABLE_SIZE``, a divisor known when the kernel compiles.

    LLVM turns a division by a constant into a multiply-high and shifts: at 100
    backends this saves about 0.6 ns per key over :func:`umod_by` (measured with
    a literal 65537 beside the reciprocal in one process).
    """
    if not NATIVE_U64:
        return umod(x, DEFAULT_TABLE_SIZE)
    return np.int64(np.uint64(x) % np.uint64(DEFAULT_TABLE_SIZE))


@kernel(signature="schedule", refcount=False)
def maglev_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``table[h mod M]`` per request hash."""
    m = state[TABLE_SIZE]
    slots = state[TABLE_AT]
    r = reciprocal(m)
    backend = -1
    if state[KEY_POLICY] != 1:  # the keys are the hashes: the hot loop has no policy branch
        if m == DEFAULT_TABLE_SIZE:  # Envoy's default size, the common case: a constant divisor
            for i in range(first, last):
                backend = account(table, state[slots + umod_default_size(item(keys, i))], mode)
                out[i] = backend
            return backend
        for i in range(first, last):
            backend = account(table, state[slots + umod_by(item(keys, i), m, r)], mode)
            out[i] = backend
        return backend
    for i in range(first, last):
        b = state[slots + umod_by(request_hash(state, item(keys, i)), m, r)]
        backend = account(table, b, mode)
        out[i] = backend
    return backend


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def _table_size(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"table_size must be an integer, got {value!r}")
    m = int(value)
    if not 2 <= m <= MAX_TABLE_SIZE:
        raise ValueError(f"table_size must be in 2..{MAX_TABLE_SIZE}, got {m}")
    if not _is_prime(m):
        raise ValueError(f"The table size of maglev must be prime number (table_size={m})")
    return m


@register
class EnvoyMaglev(HashBalancer):
    """Envoy ``MAGLEV``: a prime table filled by key-sorted permutations, weighted by running targets.

    Parameters
    ----------
    weights : sequence of int
        Envoy weights (0: not in the host set).
    addresses : sequence, optional
        ``"ip:port"`` per backend: the host keys (default ``10.0.0.(1+id):80``).
    table_size : int
        M, a prime up to 5000011 (default 65537).
    hash_policy, use_hostname_for_hashing, hostnames, hash_keys
        See :class:`~lbalgo.schedulers.envoy._hashing.HashBalancer`.
    panic_threshold : float
        Below it the table is built over every host (default 50).
    """

    name = "envoy-maglev"
    #: In a simulation the keys are client addresses: hash them as Envoy's source_ip policy does.
    simulation_options = {"hash_policy": "source_ip"}
    summary = "Envoy MAGLEV: 65537-slot table, XXH64 offset/skip of host keys sorted, table[hash mod M]"
    source = "Envoy v1.36 maglev_lb.cc (MaglevTable, OriginalMaglevTable), thread_aware_lb_impl.cc"

    _schedule = maglev_schedule
    _changed = maglev_changed

    def __init__(self, weights=None, *, table_size: int = DEFAULT_TABLE_SIZE, **options) -> None:
        self.table_size = _table_size(table_size)
        super().__init__(weights, **options)

    def _policy_size(self) -> int:
        return self.table_size

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        super()._configure(state, fstate)
        state[TABLE_SIZE] = self.table_size
        state[TABLE_AT] = self._policy_at(state)

    def _moved_policy(self, state: np.ndarray, start: int) -> None:
        state[TABLE_AT] = start

    @property
    def slots(self) -> np.ndarray:
        """Backend id per table slot, -1 while no host is in the table (read-only)."""
        start = int(self.state[TABLE_AT])
        v = self.state[start: start + self.table_size].view()
        v.flags.writeable = False
        return v

"""envoy-ring-hash: Envoy's RING_HASH (``ring_hash_lb.cc``, ``RingHashLoadBalancer::Ring``).

::

    build (on every host-set change):               (Ring::Ring, normalizeHostWeights)
        hosts = healthy hosts, or all hosts in panic; w_k = weight_k / sum(weights)
        scale = min(ceil(min_k w_k * minimum_ring_size) / min_k w_k, maximum_ring_size)
        current = target = 0.0
        for each host, in host order:
            target += scale * w_k; i = 0
            while current < target:
                add (hash(host_key + "_" + str(i)), host); i += 1; current += 1
        sort the entries by hash                     (hash: XXH64 seed 0, or MurmurHash2 64)

    pick(h):                                        (Ring::chooseHost: ketama's binary search)
        the first entry whose hash is >= h, wrapping past the last to the first

So every host gets ``scale * w_k`` entries as running sums round them (4
hosts on a ring of 2: two of them get none). The host key is the address
``"ip:port"`` (or hostname / ``hash_key`` metadata, see :mod:`._hashing`).
A ring needing more room than the state holds is regrown from Python; in
the simulator's compiled loop it is refused (the ring stays empty and the
connections go nowhere), so size it with :meth:`EnvoyRingHash.reserve`.
Envoy's ``hash_balance_factor`` (bounded loads) is not modelled.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..._jit import kernel
from ..._table import EV_UPDATE, SLOT, account, item
from ..registry import register
from ._hash import MURMUR_HASH_2, MURMUR_SEED, murmur2_64, xxhash64
from ._hashing import KEY_BYTES, HashBalancer, format_uint, host_key, request_hash
from ._hosts import (
    BUCKET_AT,
    BUCKET_BITS,
    CAP,
    CLOCK,
    FORCE,
    HASH_FUNCTION,
    KEY_POLICY,
    MAX_RING,
    MIN_RING,
    N_ALL,
    N_HEALTHY,
    PANIC,
    R_ALL,
    R_HEALTHY,
    RING_AT,
    RING_N,
    RNG_AT,
    RNG_MODE,
    TABLE_SIZE,
    at,
    collect_hosts,
    envoy_weight,
)

SIGN = np.int64(-(1 << 63))  # XOR with it: unsigned order becomes signed order
DEFAULT_MIN_RING = 1024
DEFAULT_MAX_RING = 8 * 1024 * 1024
HASH_FUNCTIONS = ("XX_HASH", "MURMUR_HASH_2")


@kernel
def ring_scale(table, state, hosts, n):
    """``(scale, sum)`` of the ring over ``n`` hosts from region offset ``hosts``."""
    total = 0
    for k in range(n):
        total += envoy_weight(table, table[SLOT, state[hosts + k]])
    least = 1.0
    for k in range(n):
        w = envoy_weight(table, table[SLOT, state[hosts + k]]) * 1.0 / total
        if w < least:
            least = w
    scale = math.ceil(least * state[MIN_RING]) / least
    if scale > float(state[MAX_RING]):
        scale = float(state[MAX_RING])
    return scale, total


@kernel(signature="changed")
def ring_changed(table, state, fstate, event, where):
    """Rebuild the ring from the (healthy, or in panic all) hosts when the host set changed."""
    if not collect_hosts(table, state, fstate, fstate[CLOCK]):
        return
    panic = state[PANIC] != 0
    hosts = at(state, R_ALL) if panic else at(state, R_HEALTHY)
    n = state[N_ALL] if panic else state[N_HEALTHY]
    state[RING_N] = 0
    if n == 0:
        return
    scale, total = ring_scale(table, state, hosts, n)
    # Count the entries first: a ring larger than the region is refused, never cut.
    entries = 0
    current = 0.0
    target = 0.0
    for k in range(n):
        target += scale * (envoy_weight(table, table[SLOT, state[hosts + k]]) * 1.0 / total)
        while current < target:
            current += 1.0
            entries += 1
    room = state[TABLE_SIZE]
    if entries > room:
        state[RING_N] = -entries
        return
    ring = state[RING_AT]
    buf = np.empty(KEY_BYTES + 24, dtype=np.uint8)
    hashes = np.empty(entries, dtype=np.int64)
    ids = np.empty(entries, dtype=np.int64)
    murmur = state[HASH_FUNCTION] == MURMUR_HASH_2
    e = 0
    current = 0.0
    target = 0.0
    for k in range(n):
        b = state[hosts + k]
        length = host_key(state, b, buf)
        buf[length] = 95  # '_'
        target += scale * (envoy_weight(table, table[SLOT, b]) * 1.0 / total)
        i = 0
        while current < target:
            end = format_uint(i, buf, length + 1)
            if murmur:
                h = murmur2_64(buf, 0, end, MURMUR_SEED)
            else:
                h = xxhash64(buf, 0, end, 0)
            hashes[e] = h ^ SIGN
            ids[e] = b
            e += 1
            i += 1
            current += 1.0
    order = np.argsort(hashes, kind="mergesort")
    for j in range(entries):
        state[ring + j] = hashes[order[j]]
        state[ring + room + j] = ids[order[j]]
    state[RING_N] = entries
    # Bucket j of the index holds the first entry >= j * 2**(64 - bits): a lookup
    # starts there and steps over the few entries inside its bucket.
    bits = state[BUCKET_BITS]
    shift = 64 - bits
    half = 1 << (bits - 1)
    buckets = state[BUCKET_AT]
    p = 0
    for j in range(1 << bits):
        start = (j - half) << shift  # (j << shift) ^ 2**63, without leaving int64
        while p < entries and state[ring + p] < start:
            p += 1
        state[buckets + j] = p


@kernel(inline="always")
def ring_lookup(state, ring, room, size, buckets, shift, mask, h):
    """Return the ring index ``Ring::chooseHost`` returns for the request hash ``h`` (int64 bits).

    Ketama's binary search returns the first entry whose hash is >= h, or
    entry 0 past the last one; the bucket index finds the same entry with a
    short forward step instead of a search.
    """
    hb = h ^ SIGN
    i = state[buckets + ((h >> shift) & mask)]
    while i < size and state[ring + i] < hb:
        i += 1
    if i == size:
        i = 0
    return state[ring + room + i]


@kernel(signature="schedule", refcount=False)
def ring_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """Schedule each connection on the ring entry at or after its request hash."""
    ring = state[RING_AT]
    room = state[TABLE_SIZE]
    size = state[RING_N]
    buckets = state[BUCKET_AT]
    shift = 64 - state[BUCKET_BITS]
    mask = (1 << state[BUCKET_BITS]) - 1
    backend = -1
    if size > 0 and state[KEY_POLICY] != 1:  # the keys are the hashes: the hot loop has no branch
        for i in range(first, last):
            b = ring_lookup(state, ring, room, size, buckets, shift, mask, item(keys, i))
            backend = account(table, b, mode)
            out[i] = backend
        return backend
    for i in range(first, last):
        b = -1
        if size > 0:
            b = ring_lookup(state, ring, room, size, buckets, shift, mask, request_hash(state, item(keys, i)))
        backend = account(table, b, mode)
        out[i] = backend
    return backend


def _bucket_bits(room: int) -> int:
    """Bits of the ring's bucket index: ``2**bits >= 4 * room`` up to 65536 buckets, else ``>= room``.

    At least 16 buckets. Fewer entries per bucket make the lookup's step loop run 0 times
    more often (fewer mispredicted branches): at 100 backends (1124 entries, room 2248)
    4x the buckets took a decision from 4.7 to 3.9 ns; past 65536 buckets a ring keeps
    about one bucket per slot, as before.
    """
    bits = (room - 1).bit_length()
    return max(4, min(bits + 2, max(bits, 16)))


def ring_entries(weights: list[int], minimum: int, maximum: int) -> int:
    """How many entries Envoy's ring holds for these (positive) weights: the region a state needs."""
    if not weights:
        return 0
    total = sum(weights)
    least = min(w * 1.0 / total for w in weights)
    scale = min(math.ceil(least * minimum) / least, float(maximum))
    current = target = 0.0
    entries = 0
    for w in weights:
        target += scale * (w * 1.0 / total)
        while current < target:
            current += 1.0
            entries += 1
    return entries


def _ring_size(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    v = int(value)
    if not 1 <= v <= DEFAULT_MAX_RING:
        raise ValueError(f"{what} must be in 1..{DEFAULT_MAX_RING}, got {v}")
    return v


@register
class EnvoyRingHash(HashBalancer):
    """Envoy ``RING_HASH``: ketama ring of ``host_key_i`` hashes, weighted by entry count.

    Parameters
    ----------
    weights : sequence of int
        Envoy weights (0: not in the host set); they scale each host's entries.
    addresses : sequence, optional
        ``"ip:port"`` per backend: the host keys (default ``10.0.0.(1+id):80``).
    minimum_ring_size, maximum_ring_size : int
        Ring size bounds (defaults 1024 and 8388608).
    hash_function : {"XX_HASH", "MURMUR_HASH_2"}
        Hash of the ring entries (requests are hashed by the hash policy).
    hash_policy, use_hostname_for_hashing, hostnames, hash_keys
        See :class:`~lbalgo.schedulers.envoy._hashing.HashBalancer`.
    panic_threshold : float
        Below it the ring is built over every host (default 50).
    """

    name = "envoy-ring-hash"
    #: In a simulation the keys are client addresses: hash them as Envoy's source_ip policy does.
    simulation_options = {"hash_policy": "source_ip"}
    summary = "Envoy RING_HASH: ketama ring of xxHash64(host_key_i), entries by weight, first entry >= hash"
    source = "Envoy v1.36 ring_hash_lb.cc (RingHashLoadBalancer::Ring), thread_aware_lb_impl.cc"

    _schedule = ring_schedule
    _changed = ring_changed

    def __init__(self, weights=None, *, minimum_ring_size: int = DEFAULT_MIN_RING,
                 maximum_ring_size: int = DEFAULT_MAX_RING, hash_function: str = "XX_HASH",
                 **options) -> None:
        lo = _ring_size(minimum_ring_size, "minimum_ring_size")
        hi = _ring_size(maximum_ring_size, "maximum_ring_size")
        if lo > hi:
            raise ValueError(f"ring hash: minimum_ring_size ({lo}) > maximum_ring_size ({hi})")
        if hash_function not in HASH_FUNCTIONS:
            raise ValueError(f"hash_function must be one of {HASH_FUNCTIONS}, got {hash_function!r}")
        self.minimum_ring_size = lo
        self.maximum_ring_size = hi
        self.hash_function = hash_function
        given = weights if weights is not None else []
        self._room = max(16, 2 * ring_entries([int(w) for w in given if int(w) > 0], lo, hi))
        super().__init__(weights, **options)

    def _policy_size(self) -> int:
        return 2 * self._room + (1 << _bucket_bits(self._room))

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        super()._configure(state, fstate)
        state[MIN_RING] = self.minimum_ring_size
        state[MAX_RING] = self.maximum_ring_size
        state[HASH_FUNCTION] = HASH_FUNCTIONS.index(self.hash_function)
        state[TABLE_SIZE] = self._room
        self._moved_policy(state, self._policy_at(state))

    def _moved_policy(self, state: np.ndarray, start: int) -> None:
        state[RING_AT] = start
        state[BUCKET_BITS] = _bucket_bits(self._room)
        state[BUCKET_AT] = start + 2 * self._room

    def _pool_changed(self, event: int, where: int) -> None:
        super()._pool_changed(event, where)
        if self.state[RING_N] < 0:  # the ring needs more room: grow the region and build again
            self._grow(int(-self.state[RING_N]))

    def _grow(self, entries: int) -> None:
        old = self.state
        start = self._policy_at(old)
        old_size = self._policy_size()
        self._room = max(2 * entries, 16)
        size = self._policy_size()
        state, _ = self._blank(int(old[CAP]), int(old.size - start - old_size))
        state[:start] = old[:start]
        state[start + size:] = old[start + old_size:]
        state[TABLE_SIZE] = self._room
        self._moved_policy(state, start)
        if old[RNG_MODE]:  # an injected random stream moved with the tail
            state[RNG_AT] = int(old[RNG_AT]) + size - old_size
        state[FORCE] = 1
        self.state = state
        self._changed.entry(self.pool.table, self.state, self.fstate, EV_UPDATE, 0)

    def reserve(self, picks: int) -> None:
        """Make room for the largest ring the current weights can need, before a simulation.

        A pool event in the compiled simulator that needs a larger ring
        than this cannot grow it (its connections then find no backend).
        """
        super().reserve(picks)
        weights = [int(w) for w in self.pool.weights[self.pool.list_order] if w > 0] or [1]
        worst = ring_entries(weights, self.minimum_ring_size, self.maximum_ring_size)
        bound = math.ceil(self.minimum_ring_size + sum(weights) / min(weights))
        worst = max(worst, min(self.maximum_ring_size, bound) + len(weights) + 1)
        if worst > int(self.state[TABLE_SIZE]):
            self._grow(worst)

    @property
    def ring(self) -> list[tuple[int, int]]:
        """The ring: ``(unsigned 64-bit hash, backend id)`` entries in ring order."""
        n = max(0, int(self.state[RING_N]))
        at_ = int(self.state[RING_AT])
        room = int(self.state[TABLE_SIZE])
        hashes = (self.state[at_: at_ + n] ^ SIGN).view(np.uint64)
        return [(int(h), int(b)) for h, b in zip(hashes, self.state[at_ + room: at_ + room + n])]

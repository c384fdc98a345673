"""mh: Maglev hashing, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_mh.c``).

State: a lookup table of M slots (a prime, default 4093), each holding a
backend id or nothing. ``h1(v)`` / ``h2(v)`` are ``hsiphash`` of the u32
``v`` with the fixed keys {2654435761, 2654435761} and {2654446892,
2654446892} (SipHash-1-3 as 64-bit Linux computes it, :mod:`lbalgo._hash`). ::

    rebuild():                          (on every add, delete and edit)
        lw = last_weight (latest non-zero weight) of each listed backend
        g = gcd of the lw > 0; none: every slot empty, done
        rshift = max(0, bit_length(max lw / g) - bits)     (bits = 6 for M = 4093)
        per backend, in list order, with v = backend addr + port (mod 2**32):
            offset = h1(v) % M; skip = h2(v) % (M - 1) + 1; perm = offset
            turns = (lw / g) >> rshift, or 1 if that is 0 and lw != 0
        rounds over the list from its first slot: a backend with turns 0 is
        skipped; the others claim `turns` slots in a row, each the next free
        slot of perm, perm + skip, perm + 2*skip, ... (mod M);
        stop once all M slots are claimed, possibly mid-round

    pick(addr, port):
        port = client source port with port=True, else 0
        ih = h1(addr + port) % M; b = slot[ih]
        empty: nothing; weight > 0 and not overloaded: b
        fallback=False: nothing
        fallback=True: for o in 0..M-1: slot h1((o + ih) % M + addr + port) % M,
                       rehashed per probe; empty: nothing; usable: it

Because the table follows ``last_weight``, quiescing a backend (weight 0)
keeps its slots (its clients are refused, or moved by the fallback), and
restoring the old weight gives back the identical table. A backend added
with weight 0 gets no slots. More than M backends: IPVS refuses to
rebuild (EINVAL) and keeps the old table; ``MH.add_backend`` raises.

A backend's permutation depends only on ``addr + port`` of the backend, so
backends need addresses. Those without one hash as ``10.0.0.1`` + id,
port 0 (id 0 is 10.0.0.1, id 1 is 10.0.0.2, ...); give real ones with
``addresses=["10.0.0.1:80", ...]`` or ``add_backend(address=...)``.

The state is one int64 array: the fields ``TAB_BITS`` .. ``SIZE``, the M
lookup-table slots from ``SLOTS`` on, then one identity (``addr + port``,
-1 = the default) per backend id from ``SLOTS + M`` on.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import addresses as _addresses
from .._hash import M32, hsiphash32
from .._jit import kernel
from .._table import (
    BACKEND,
    COUNT_ACTIVE,
    EV_ADD,
    LAST_WEIGHT,
    LOOKUP,
    SLOT,
    bind,
    gcd_and_max,
    listed,
    usable,
)
from ..errors import InvalidArgument, InvalidArgumentType, short
from .registry import register
from .sh import HashScheduler, _flag, _readonly, key_source

#: Table sizes IPVS offers (``CONFIG_IP_VS_MH_TAB_INDEX`` 8..17).
PRIMES = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071)
HASH1 = 2654435761  # both key words of hash1 (high halves are 0)
HASH2 = 2654446892  # both key words of hash2
#: Hash identity of a backend without an address: 10.0.0.1 + id, port 0.
DEFAULT_ADDRESS = 0x0A000001

# state slots, then the regions
TAB_BITS, PORT, FALLBACK, GCD, RSHIFT, SIZE = 0, 1, 2, 3, 4, 5
SLOTS = 8  # lookup-table slot j is state[SLOTS + j], j in 0 .. M-1 (M = state[SIZE])
# the identity of backend id b is state[SLOTS + M + b]


@kernel(inline="always")
def _mh_slot(x, m):
    """Return ``h1(x) % M``, the lookup-table slot of the u32 ``x``.

    Computed unsigned: both operands fit 32 bits, and an unsigned remainder
    compiles to one division where Python's signed ``%`` needs sign fix-ups.
    """
    return np.int64(np.uint64(hsiphash32(x, 0, HASH1, 0, HASH1)) % np.uint64(m))


@kernel(inline="always")
def _mh_fallback(table, state, v, ih, m, probes):
    """Return the backend id of the first usable slot of mh-fallback's walk from ``ih`` (-1: none).

    Probe o looks at slot ``h1((o + ih) % M + v) % M``, rehashed per probe.
    """
    for o in range(probes):
        backend = state[SLOTS + _mh_slot((((o + ih) % m) + v) & M32, m)]
        if backend < 0:
            return -1
        s = table[SLOT, backend]
        if s >= 0 and usable(table, s):
            return backend
    return -1


@kernel(signature="schedule", refcount=False)
def mh_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: the fields, the M slots, the identities; key = (port << 32) | addr."""
    m = state[SIZE]
    port_mask = M32 if state[PORT] else 0
    probes = m if state[FALLBACK] else 0
    source = key_source(keys, out, first, last)
    backend = -1
    for i in range(first, last):
        u = np.uint64(i)  # unsigned: source[u] and out[u] compile without the negative-index fixup
        key = source[u]
        v = (key + ((key >> 32) & port_mask)) & M32  # addr + port (with the port flag) mod 2**32
        ih = _mh_slot(v, m)
        backend = state[SLOTS + ih]
        if backend >= 0:
            s = table[SLOT, backend]
            # (s >= 0 always holds; saying so spares the compiled code the negative-index fixup.)
            if not (s >= 0 and usable(table, s)):
                backend = _mh_fallback(table, state, v, ih, m, probes)
        if backend >= 0 and mode != LOOKUP:  # account(table, backend, mode), as in sh_schedule
            bind(table, backend, mode == COUNT_ACTIVE)
        out[u] = backend
    return backend


@kernel(inline="always")
def mh_identity(state, backend):
    """Return ``addr + port`` (mod 2**32) of a backend, or the default 10.0.0.1 + id."""
    x = state[SLOTS + state[SIZE] + backend]
    if x < 0:
        x = (DEFAULT_ADDRESS + backend) & M32
    return x


@kernel(signature="changed")
def mh_changed(table, state, fstate, event, where):
    """Rebuild the whole lookup table from the listed backends' ``last_weight``, in list order."""
    m = state[SIZE]
    n = listed(table)
    if n > m:
        return  # IPVS fails with EINVAL and keeps its table
    g, mw = gcd_and_max(table, LAST_WEIGHT)
    state[GCD] = g
    if g < 1:
        state[RSHIFT] = 0
        for j in range(m):
            state[SLOTS + j] = -1
        return
    fls = 0
    x = mw // g
    while x:
        fls += 1
        x >>= 1
    rshift = fls - state[TAB_BITS]
    if rshift < 0:
        rshift = 0
    state[RSHIFT] = rshift

    skip = np.empty(n, dtype=np.int64)
    perm = np.empty(n, dtype=np.int64)
    turns = np.empty(n, dtype=np.int64)
    for s in range(n):
        v = mh_identity(state, table[BACKEND, s])
        perm[s] = hsiphash32(v, 0, HASH1, 0, HASH1) % m
        skip[s] = hsiphash32(v, 0, HASH2, 0, HASH2) % (m - 1) + 1
        lw = table[LAST_WEIGHT, s]
        t = (lw // g) >> rshift
        if t == 0 and lw != 0:
            t = 1
        turns[s] = t

    taken = np.zeros(m, dtype=np.bool_)
    um = np.uint64(m)
    filled = 0
    s = 0
    count = 0
    while True:
        t = turns[s]
        if t < 1:
            s = s + 1 if s + 1 < n else 0
            continue
        # Unsigned, so that the probe loop compiles without negative-index fix-ups.
        c = np.uint64(perm[s])
        step = np.uint64(skip[s])
        while taken[c]:
            c += step
            if c >= um:
                c -= um
        taken[c] = True
        j = np.int64(c)
        perm[s] = j
        state[SLOTS + j] = table[BACKEND, s]
        filled += 1
        if filled == m:
            return
        count += 1
        if count >= t:
            count = 0
            s = s + 1 if s + 1 < n else 0


def _table_size(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(f"table_size must be an integer, got {short(value)}")
    if int(value) not in PRIMES:
        raise InvalidArgument(f"table_size must be one of the primes IPVS offers {PRIMES}, got {int(value)}")
    return int(value)


@register
class MH(HashScheduler):
    """Maglev hashing (IPVS ``mh``): consistent hashing with weights.

    Parameters
    ----------
    weights : sequence of int
        Backend weights; the table follows each backend's latest non-zero
        weight, so quiescing (weight 0) keeps its slots.
    addresses : sequence, optional
        Backend ``"ip:port"`` endpoints: a backend's slots depend on its
        address + port. Backends without one hash as 10.0.0.1 + id, port 0.
    port : bool
        Add the client source port to the hashed address (``mh-port``;
        kube-proxy sets it).
    fallback : bool
        Probe other slots, rehashing, when the chosen backend is quiesced or
        overloaded (``mh-fallback``).
    table_size : int
        M, one of :data:`PRIMES` (``CONFIG_IP_VS_MH_TAB_INDEX``; default 4093).
    """

    name = "mh"
    summary = "Maglev consistent hashing (SipHash-1-3), M = 4093 slots, weights via last_weight"
    source = "Linux IPVS ip_vs_mh.c"

    _schedule = mh_schedule
    _changed = mh_changed

    def __init__(self, weights=None, *, port: bool = False, fallback: bool = False,
                 table_size: int = 4093, **options) -> None:
        self.port = _flag(port, "port")
        self.fallback = _flag(fallback, "fallback")
        self.table_size = _table_size(table_size)
        pool = options.get("pool")
        # Other kinds of weights are refused by the pool.
        n = len(pool) if pool is not None and hasattr(pool, "list_order") else (
            len(weights) if isinstance(weights, (list, tuple, np.ndarray)) else 0)
        if n > self.table_size:
            raise InvalidArgument(f"mh: {n} backends do not fit a table of {self.table_size} slots "
                             "(IPVS refuses more destinations than slots: EINVAL)")
        super().__init__(weights, **options)

    # -- state -------------------------------------------------------------------------
    def _identity(self, backend: int) -> int:
        """``addr + port`` (mod 2**32) of a backend id, -1 without an address."""
        addr = self.pool.addresses[backend]
        return -1 if addr is None else (_addresses.fold32(addr) + self.pool.ports[backend]) & M32

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.table_size
        capacity = self.pool.capacity
        state = np.full(SLOTS + m + capacity, -1, dtype=np.int64)
        state[:SLOTS] = 0
        state[TAB_BITS] = (PRIMES.index(m) + 8) // 2
        state[PORT] = self.port
        state[FALLBACK] = self.fallback
        state[SIZE] = m
        for b in range(self.pool.n_ids):
            state[SLOTS + m + b] = self._identity(b)
        fstate = np.zeros(0, dtype=np.float64)
        self._changed.entry(self.pool.table, state, fstate, EV_ADD, 0)
        return state, fstate

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        old = self.state
        state = np.full(SLOTS + self.table_size + capacity, -1, dtype=np.int64)
        state[: len(old)] = old
        return state, self.fstate

    def _pool_changed(self, event: int, where: int) -> None:
        if event == EV_ADD:
            b = int(self.pool.table[BACKEND, where])
            self.state[SLOTS + self.table_size + b] = self._identity(b)
        super()._pool_changed(event, where)

    def add_backend(self, weight: int = 1, **options: Any) -> int:
        """Add a backend (see :meth:`Pool.add`); raises when the table has no room for it."""
        if len(self.pool) >= self.table_size:
            raise InvalidArgument(f"mh: a table of {self.table_size} slots holds at most "
                             f"{self.table_size} backends (IPVS fails with EINVAL)")
        return super().add_backend(weight, **options)

    # -- introspection ------------------------------------------------------------------
    @property
    def slots(self) -> np.ndarray:
        """Backend id per lookup-table slot, -1 for an empty slot (read-only)."""
        return _readonly(self.state[SLOTS: SLOTS + self.table_size])

    def endpoint(self, backend: int) -> str:
        """Return the ``"ip:port"`` a backend hashes as (its own address, or the default)."""
        b = self.pool.check_id(backend, listed=False)
        addr = self.pool.addresses[b]
        if addr is None:
            return f"{_addresses.parse((DEFAULT_ADDRESS + b) & M32)}:0"
        return _addresses.endpoint_string(addr, self.pool.ports[b])

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        return f"MH(weights={w}, table_size={self.table_size}, port={self.port}, fallback={self.fallback})"

"""mh: Maglev hashing, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_mh.c``).

State: a lookup table of M slots (a prime, default 4093), each holding a
backend id or nothing. ``h1(v)`` / ``h2(v)`` are ``hsiphash`` of the u32
``v`` with the fixed keys {2654435761, 2654435761} and {2654446892,
2654446892} (SipHash-1-3 on 64-bit kernels, :mod:`lbalgo._hash`). ::

    rebuild():                          (on every add, delete and edit)
        lw = last_weight (latest non-zero weight) of each listed backend
        g = gcd of the lw > 0; none: every slot empty, done
        rshift = max(0, bit_length(max lw / g) - bits)     (bits = 6 for M = 4093)
        per backend, in list order, with v = backend addr + port (mod 2**32):
            offset = h1(v) % M; skip = h2(v) % (M - 1) + 1; perm = offset
            turns = (lw / g) >> rshift, or 1 if that is 0 and lw != 0
        rounds over the list from the head: a backend with turns 0 is
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
with weight 0 gets no slots. More than M backends: the kernel refuses to
rebuild (EINVAL) and keeps the old table; ``MH.add_backend`` raises.

A backend's permutation depends only on ``addr + port`` of the backend, so
backends need addresses. Those without one hash as ``10.0.0.1`` + id,
port 0 (id 0 is 10.0.0.1, id 1 is 10.0.0.2, ...); give real ones with
``addresses=["10.0.0.1:80", ...]`` or ``add_backend(address=...)``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import addresses as _addresses
from .._hash import M32, hsiphash32
from .._jit import kernel
from .._table import EV_ADD, F_OVERLOAD, FLAGS, LAST_WEIGHT, WEIGHT, bind, gcd_and_max
from .base import schedule_one
from .registry import register
from .sh import HashScheduler, _flag

#: Table sizes the kernel offers (``CONFIG_IP_VS_MH_TAB_INDEX`` 8..17).
PRIMES = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071)
HASH1 = 2654435761  # both key words of hash1 (high halves are 0)
HASH2 = 2654446892  # both key words of hash2
#: Hash identity of a backend without an address: 10.0.0.1 + id, port 0.
DEFAULT_ADDRESS = 0x0A000001

# meta slots
TAB_BITS, PORT, FALLBACK, GCD, RSHIFT = 0, 1, 2, 3, 4


@kernel(inline="always")
def _mh_decide(table, slots, key, use_port, probes):
    """The backend for one key (-1: none); shared by ``mh_pick`` and the batch loop."""
    m = slots.shape[0]
    v = key & M32
    if use_port:
        v = (v + (key >> 32)) & M32
    # The chosen slot ih = h1(v) % M, then with fallback the rehashed probes
    # r = (o + ih) % M, slot h1(r + v) % M: one loop with one hash call site.
    x = v
    ih = 0
    chosen = -1
    for o in range(probes + 1):
        s = hsiphash32(x, 0, HASH1, 0, HASH1) % m
        if o == 0:
            ih = s
        backend = slots[s]
        if backend < 0:
            break
        if table[backend, WEIGHT] > 0 and not table[backend, FLAGS] & F_OVERLOAD:
            chosen = backend
            break
        x = (((o + ih) % m) + v) & M32
    return chosen


@kernel(refcount=False)
def mh_pick(table, order, state, key, now):
    """``state`` = (slots int64[M], ident int64[capacity], meta int64[8]); key = (port << 32) | addr."""
    slots = state[0]
    meta = state[2]
    probes = slots.shape[0] if meta[FALLBACK] else 0
    return _mh_decide(table, slots, key, meta[PORT] != 0, probes)


@kernel
def mh_identity(ident, backend):
    """``addr + port`` (mod 2**32) of a backend, or the default 10.0.0.1 + id."""
    x = ident[backend]
    if x < 0:
        x = (DEFAULT_ADDRESS + backend) & M32
    return x


@kernel
def mh_changed(table, order, state, event, pos):
    """Rebuild the whole lookup table from the listed backends' ``last_weight``."""
    slots, ident, meta = state
    m = slots.shape[0]
    n = order[0]
    if n > m:
        return  # the kernel fails with EINVAL and keeps its table
    g, mw = gcd_and_max(table, order, LAST_WEIGHT)
    meta[GCD] = g
    if g < 1:
        meta[RSHIFT] = 0
        slots[:] = -1
        return
    fls = 0
    x = mw // g
    while x:
        fls += 1
        x >>= 1
    rshift = fls - meta[TAB_BITS]
    if rshift < 0:
        rshift = 0
    meta[RSHIFT] = rshift

    skip = np.empty(n, dtype=np.int64)
    perm = np.empty(n, dtype=np.int64)
    turns = np.empty(n, dtype=np.int64)
    for i in range(n):
        backend = order[i + 1]
        v = mh_identity(ident, backend)
        perm[i] = hsiphash32(v, 0, HASH1, 0, HASH1) % m
        skip[i] = hsiphash32(v, 0, HASH2, 0, HASH2) % (m - 1) + 1
        lw = table[backend, LAST_WEIGHT]
        t = (lw // g) >> rshift
        if t == 0 and lw != 0:
            t = 1
        turns[i] = t

    taken = np.zeros(m, dtype=np.bool_)
    filled = 0
    i = 0
    count = 0
    while True:
        t = turns[i]
        if t < 1:
            i = i + 1 if i + 1 < n else 0
            continue
        c = perm[i]
        while taken[c]:
            c += skip[i]
            if c >= m:
                c -= m
        perm[i] = c
        taken[c] = True
        slots[c] = order[i + 1]
        filled += 1
        if filled == m:
            return
        count += 1
        if count >= t:
            count = 0
            i = i + 1 if i + 1 < n else 0


@kernel
def _mh_one(table, order, state, key, now, as_active):
    return schedule_one(mh_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _mh_loop(table, state, keys, n, as_active, count, out):
    """``mh_pick`` for ``n`` keys (key 0 when ``keys`` is empty), binding if ``count``.

    The state is unpacked once for the whole batch, which is 1.7 times faster
    than calling ``mh_pick`` per key through the generic driver.
    """
    slots = state[0]
    meta = state[2]
    use_port = meta[PORT] != 0
    probes = slots.shape[0] if meta[FALLBACK] else 0
    have_keys = keys.shape[0] > 0
    for i in range(n):
        key = keys[i] if have_keys else 0
        chosen = _mh_decide(table, slots, key, use_port, probes)
        if chosen >= 0 and count:
            bind(table, chosen, as_active)
        out[i] = chosen


@kernel
def _mh_batch(table, order, state, keys, times, now, as_active, out):
    _mh_loop(table, state, keys, out.shape[0], as_active, True, out)


@kernel
def _mh_lookup(table, order, state, keys, out):
    _mh_loop(table, state, keys, out.shape[0], False, False, out)


def _table_size(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"table_size must be an integer, got {value!r}")
    if int(value) not in PRIMES:
        raise ValueError(f"table_size must be one of the kernel's primes {PRIMES}, got {int(value)}")
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

    _pick = mh_pick
    _changed = mh_changed
    _schedule_one = _mh_one
    _schedule_batch = _mh_batch
    _lookup = _mh_lookup

    def __init__(self, weights=None, *, port: bool = False, fallback: bool = False,
                 table_size: int = 4093, **options) -> None:
        self.port = _flag(port, "port")
        self.fallback = _flag(fallback, "fallback")
        self.table_size = _table_size(table_size)
        pool = options.get("pool")
        n = len(pool) if pool is not None and hasattr(pool, "list_order") else (
            0 if weights is None else len(weights))
        if n > self.table_size:
            raise ValueError(f"mh: {n} backends do not fit a table of {self.table_size} slots "
                             "(the kernel refuses more destinations than slots: EINVAL)")
        super().__init__(weights, **options)

    # -- state -------------------------------------------------------------------------
    def _identities(self, capacity: int) -> np.ndarray:
        ident = np.full(capacity, -1, dtype=np.int64)
        for b, (addr, port) in enumerate(zip(self.pool.addresses, self.pool.ports)):
            if addr is not None:
                ident[b] = (_addresses.fold32(addr) + port) & M32
        return ident

    def _new_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.table_size
        slots = np.full(m, -1, dtype=np.int64)
        meta = np.zeros(8, dtype=np.int64)
        meta[TAB_BITS] = (PRIMES.index(m) + 8) // 2
        meta[PORT] = self.port
        meta[FALLBACK] = self.fallback
        state = (slots, self._identities(self.pool.capacity), meta)
        self._changed(self.pool.table, self.pool.order, state, EV_ADD, 0)
        return state

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        slots, ident, meta = self.state
        fresh = np.full(capacity, -1, dtype=np.int64)
        fresh[: len(ident)] = ident
        return (slots, fresh, meta)

    def _pool_changed(self, event: int, pos: int) -> None:
        if event == EV_ADD:
            b = int(self.pool.order[pos])
            addr = self.pool.addresses[b]
            self.state[1][b] = -1 if addr is None else (_addresses.fold32(addr) + self.pool.ports[b]) & M32
        super()._pool_changed(event, pos)

    def add_backend(self, weight: int = 1, **options: Any) -> int:
        """Add a backend (see :meth:`Pool.add`); raises when the table has no room for it."""
        if len(self.pool) >= self.table_size:
            raise ValueError(f"mh: a table of {self.table_size} slots holds at most "
                             f"{self.table_size} backends (the kernel fails with EINVAL)")
        return super().add_backend(weight, **options)

    # -- introspection ------------------------------------------------------------------
    @property
    def slots(self) -> np.ndarray:
        """Backend id per lookup-table slot, -1 for an empty slot (read-only)."""
        v = self.state[0].view()
        v.flags.writeable = False
        return v

    def endpoint(self, backend: int) -> str:
        """The ``"ip:port"`` a backend hashes as (its own address, or the default)."""
        b = self.pool.check_id(backend, listed=False)
        addr = self.pool.addresses[b]
        if addr is None:
            return f"{_addresses.parse((DEFAULT_ADDRESS + b) & M32)}:0"
        host = f"[{addr}]" if addr.version == 6 else str(addr)
        return f"{host}:{self.pool.ports[b]}"

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        return f"MH(weights={w}, table_size={self.table_size}, port={self.port}, fallback={self.fallback})"

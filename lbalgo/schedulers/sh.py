"""sh: source hashing, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_sh.c``).

State: a table of ``2**bits`` buckets (default 256), each holding a backend
id or nothing. ::

    rebuild():                          (on every add, delete and edit)
        walk the list cyclically from the head; the current backend takes
        consecutive buckets until it has taken `weight` of them, then the
        next backend continues; a weight-0 backend still takes one bucket
        per cycle (the kernel moves on once ++count >= weight)
        empty list: every bucket empty

    hashkey(offset) = (offset + hash_32((port + addr) mod 2**32, bits)) & mask
    pick(addr, port):
        port = client source port with port=True, else 0
        ih = hashkey(0); b = bucket[ih]
        empty: nothing
        weight > 0 and not overloaded: b
        fallback=False: nothing (the kernel drops the packet)
        fallback=True: for o in 0..size-1: look at bucket hashkey((o + ih) % size),
                       i.e. (o + 2*ih) & mask; empty: nothing; usable: it

``hash_32(v, bits)`` is the high ``bits`` bits of ``v * 0x61C88647`` mod
2**32 (``include/linux/hash.h``). IPv6 clients are folded to 32 bits by
XOR of their four words. Weights above the table size starve the later
backends, and any edit rebuilds the whole table from bucket 0: sh is not a
consistent hash. Kernels before about 4.19 used the low bits of
``addr * 2654435761`` instead (``docs/algorithms/hashing.md``).

Keys are ``(port << 32) | addr32`` in one int64 (:mod:`lbalgo._hash`).
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from .._hash import M32, endpoint_key, endpoint_keys, hash_32
from .._jit import Kernel, kernel
from .._table import F_OVERLOAD, FLAGS, WEIGHT, bind
from .base import Scheduler, schedule_one
from .registry import register

# meta slots (shared by sh and dh)
BITS, PORT, FALLBACK = 0, 1, 2


@kernel(inline="always")
def _sh_decide(table, buckets, key, bits, use_port, probes):
    """The backend for one key (-1: none); shared by ``sh_pick`` and the batch loop."""
    mask = buckets.shape[0] - 1
    v = key & M32
    if use_port:
        v = (v + (key >> 32)) & M32
    ih = hash_32(v, bits)
    # One loop for the hashed bucket and the fallback probes: the probe for
    # offset o is bucket ((o + ih) % size + ih) & mask, so the walk starts at 2*ih.
    b = ih
    chosen = -1
    for o in range(probes + 1):
        backend = buckets[b]
        if backend < 0:
            break
        if table[backend, WEIGHT] > 0 and not table[backend, FLAGS] & F_OVERLOAD:
            chosen = backend
            break
        b = (((o + ih) & mask) + ih) & mask
    return chosen


@kernel(refcount=False)
def sh_pick(table, order, state, key, now):
    """``state`` = (buckets int64[2**bits], meta int64[4]); key = (port << 32) | addr."""
    buckets = state[0]
    meta = state[1]
    probes = buckets.shape[0] if meta[FALLBACK] else 0
    return _sh_decide(table, buckets, key, meta[BITS], meta[PORT] != 0, probes)


@kernel
def sh_changed(table, order, state, event, pos):
    """Refill every bucket from the list head, ``weight`` buckets per backend (at least 1)."""
    buckets = state[0]
    n = order[0]
    if n == 0:
        buckets[:] = -1
        return
    p = 1
    count = 0
    for i in range(buckets.shape[0]):
        backend = order[p]
        buckets[i] = backend
        count += 1
        if count >= table[backend, WEIGHT]:
            count = 0
            p = p + 1 if p < n else 1


@kernel
def _sh_one(table, order, state, key, now, as_active):
    return schedule_one(sh_pick, table, order, state, key, now, as_active)


@kernel(refcount=False)
def _sh_loop(table, state, keys, n, as_active, count, out):
    """``sh_pick`` for ``n`` keys (key 0 when ``keys`` is empty), binding if ``count``.

    The state is unpacked once for the whole batch, which is 1.3 times faster
    than calling ``sh_pick`` per key through the generic driver.
    """
    buckets = state[0]
    meta = state[1]
    bits = meta[BITS]
    use_port = meta[PORT] != 0
    probes = buckets.shape[0] if meta[FALLBACK] else 0
    have_keys = keys.shape[0] > 0
    for i in range(n):
        key = keys[i] if have_keys else 0
        chosen = _sh_decide(table, buckets, key, bits, use_port, probes)
        if chosen >= 0 and count:
            bind(table, chosen, as_active)
        out[i] = chosen


@kernel
def _sh_batch(table, order, state, keys, times, now, as_active, out):
    _sh_loop(table, state, keys, out.shape[0], as_active, True, out)


@kernel
def _sh_lookup(table, order, state, keys, out):
    _sh_loop(table, state, keys, out.shape[0], False, False, out)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def _table_bits(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"table_bits must be an integer, got {value!r}")
    if not 4 <= int(value) <= 20:
        raise ValueError(f"table_bits must be in 4..20 (the kernel's CONFIG range), got {int(value)}")
    return int(value)


class HashScheduler(Scheduler):
    """Keyed pick by address and optional client port (sh, dh, mh).

    A key is an address (``"192.0.2.7"``, an int, an ``ipaddress`` object),
    ``"192.0.2.7:5555"`` / ``"[2001:db8::7]:5555"`` or ``("192.0.2.7", 5555)``.
    Batches are integer arrays of IPv4 addresses, ``(n, 4)`` arrays of IPv6
    words or sequences of single keys, with ``ports=`` for one client port
    per key; integer arrays may also hold keys packed as
    ``(port << 32) | addr``. The port only counts where the scheduler's
    ``port`` flag is set, as in the kernel.
    """

    keyed = True
    _lookup: ClassVar[Kernel]

    def _key(self, key: Any) -> int:
        if key is None:
            raise TypeError(f"{type(self).__name__}.pick() needs key= (an address, 'ip:port' or (ip, port))")
        return endpoint_key(key)

    def _keys(self, keys: Any) -> np.ndarray:
        return endpoint_keys(keys)

    def pick_many(self, keys_or_count: Any, now: Any = None, *, ports: Any = None) -> np.ndarray:
        """Schedule one new connection per key (see :meth:`Scheduler.pick_many`).

        ``ports``: optional client source port per key (0..65535).
        """
        if ports is not None:
            if isinstance(keys_or_count, numbers.Integral):
                raise TypeError(f"{type(self).__name__}.pick_many() needs an array of keys, not a count")
            keys_or_count = endpoint_keys(keys_or_count, ports)
        return super().pick_many(keys_or_count, now)

    def lookup_many(self, keys: Any, *, ports: Any = None) -> np.ndarray:
        """The backend each key would get now, without counting a connection (-1: none).

        A pure lookup: the pool's counters and the scheduler's state are
        left untouched (the pick kernel runs without the accounting).
        """
        packed = endpoint_keys(keys, ports)
        out = np.empty(len(packed), dtype=np.int64)
        pool = self.pool
        self._lookup(pool.table, pool.order, self.state, packed, out)
        return out

    def lookup(self, key: Any) -> int:
        """The backend ``key`` would get now (-1: none), without counting a connection."""
        return int(self.lookup_many([key])[0])


@register
class SH(HashScheduler):
    """Source hashing (IPVS ``sh``): a 256-bucket table filled by weight.

    Parameters
    ----------
    weights : sequence of int
        Backend weights; see :class:`~lbalgo.schedulers.base.Scheduler`.
    port : bool
        Add the client source port to the hashed address (``sh-port``,
        ``IP_VS_SVC_F_SCHED_SH_PORT``).
    fallback : bool
        When the hashed backend is quiesced or overloaded, probe other
        buckets (``sh-fallback``) instead of refusing the connection.
    table_bits : int
        log2 of the table size (``CONFIG_IP_VS_SH_TAB_BITS``, 4..20, default 8).
    """

    name = "sh"
    summary = "source hashing: 256 buckets filled by weight, client address hashed (hash_32)"
    source = "Linux IPVS ip_vs_sh.c"

    _pick = sh_pick
    _changed = sh_changed
    _schedule_one = _sh_one
    _schedule_batch = _sh_batch
    _lookup = _sh_lookup

    def __init__(self, weights=None, *, port: bool = False, fallback: bool = False,
                 table_bits: int = 8, **options) -> None:
        self.port = _flag(port, "port")
        self.fallback = _flag(fallback, "fallback")
        self.table_bits = _table_bits(table_bits)
        super().__init__(weights, **options)

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        buckets = np.full(1 << self.table_bits, -1, dtype=np.int64)
        meta = np.array([self.table_bits, self.port, self.fallback, 0], dtype=np.int64)
        state = (buckets, meta)
        self._changed(self.pool.table, self.pool.order, state, 0, 0)
        return state

    @property
    def buckets(self) -> np.ndarray:
        """Backend id per bucket, -1 for an empty bucket (read-only)."""
        v = self.state[0].view()
        v.flags.writeable = False
        return v

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        return f"SH(weights={w}, port={self.port}, fallback={self.fallback})"

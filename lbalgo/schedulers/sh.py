"""sh: source hashing, as Linux IPVS does it (``net/netfilter/ipvs/ip_vs_sh.c``).

State: a table of ``2**bits`` buckets (default 256), each holding a backend
id or nothing. ::

    rebuild():                          (on every add, delete and edit)
        walk the list cyclically from its first slot; the current backend
        takes consecutive buckets until it has taken `weight` of them, then
        the next backend in list order continues; a weight-0 backend still
        takes one bucket per cycle (IPVS moves on once ++count >= weight)
        empty list: every bucket empty

    hashkey(offset) = (offset + hash_32((port + addr) mod 2**32, bits)) & mask
    pick(addr, port):
        port = client source port with port=True, else 0
        ih = hashkey(0); b = bucket[ih]
        empty: nothing
        weight > 0 and not overloaded: b
        fallback=False: nothing (IPVS drops the packet)
        fallback=True: for o in 0..size-1: look at bucket hashkey((o + ih) % size),
                       i.e. (o + 2*ih) & mask; empty: nothing; usable: it

``hash_32(v, bits)`` is the high ``bits`` bits of ``v * 0x61C88647`` mod
2**32 (``include/linux/hash.h``). IPv6 clients are folded to 32 bits by
XOR of their four words. Weights above the table size starve the later
backends, and any edit rebuilds the whole table from bucket 0: sh is not a
consistent hash. Linux before about 4.19 used the low bits of
``addr * 2654435761`` instead (``docs/algorithms/hashing.md``).

Keys are ``(port << 32) | addr32`` in one int64 (:func:`lbalgo.addresses.endpoint_key`). The
state is one int64 array: the fields ``BITS``, ``PORT``, ``FALLBACK``, then
the buckets from ``BUCKETS`` on (dh uses the same layout).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._hash import M32, hash_32
from .._jit import kernel
from .._table import BACKEND, COUNT_ACTIVE, EV_ADD, LOOKUP, SLOT, WEIGHT, bind, listed, usable
from ..addresses import endpoint_key, endpoint_keys
from .base import Scheduler, _times
from .registry import register

# state slots (shared by sh and dh), then the buckets
BITS, PORT, FALLBACK = 0, 1, 2
BUCKETS = 4  # bucket i is state[BUCKETS + i], for i in 0 .. 2**bits - 1

_NO_TIMES = np.zeros(1, dtype=np.float64)


@kernel(inline="always")
def key_source(keys, out, first, last):
    """Return the array holding the key of connection i at index i, for ``first <= i < last``.

    That is ``keys``, or, when one key applies to all (a one-element
    ``keys``), ``out`` filled with it. The decision loops then read
    ``source[i]``: a broadcast test per connection made them a quarter slower.
    """
    if keys.shape[0] > 1:
        return keys
    key = keys[0]
    for i in range(first, last):
        out[i] = key
    return out


@kernel(inline="always")
def _sh_hash(key, bits, port_mask):
    """Return the bucket of a key, ``hash_32((addr + port) mod 2**32, bits)``.

    ``port_mask`` is M32 to add the port, 0 to leave it out.
    """
    return hash_32((key + ((key >> 32) & port_mask)) & M32, bits)


@kernel(inline="always")
def _sh_fallback(table, state, ih, mask, probes):
    """Return the backend id of the first usable bucket of sh-fallback's walk from ``ih`` (-1: none).

    The probe for offset o is bucket ``((o + ih) % size + ih) & mask``, so the walk starts at 2*ih.
    """
    for o in range(probes):
        backend = state[BUCKETS + ((((o + ih) & mask) + ih) & mask)]
        if backend < 0:
            return -1
        s = table[SLOT, backend]
        if s >= 0 and usable(table, s):
            return backend
    return -1


@kernel(signature="schedule", refcount=False)
def sh_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``state``: BITS, PORT, FALLBACK, then the buckets; key = (port << 32) | addr."""
    bits = state[BITS]
    port_mask = M32 if state[PORT] else 0
    probes = (1 << bits) if state[FALLBACK] else 0
    mask = (1 << bits) - 1
    source = key_source(keys, out, first, last)
    backend = -1
    for i in range(first, last):
        u = np.uint64(i)  # unsigned: source[u] and out[u] compile without the negative-index fixup
        ih = _sh_hash(source[u], bits, port_mask)
        backend = state[BUCKETS + ih]
        if backend >= 0:
            s = table[SLOT, backend]
            # (s >= 0 always holds; saying so spares the compiled code the negative-index fixup.)
            if not (s >= 0 and usable(table, s)):
                backend = _sh_fallback(table, state, ih, mask, probes)
        # account(table, backend, mode), spelled out: inlined after the fallback
        # walk, the call compiled to a loop 2.5 times slower.
        if backend >= 0 and mode != LOOKUP:
            bind(table, backend, mode == COUNT_ACTIVE)
        out[u] = backend
    return backend


@kernel(signature="changed", refcount=False)
def sh_changed(table, state, fstate, event, where):
    """Refill every bucket from the first slot, ``weight`` buckets per backend (at least 1)."""
    size = 1 << state[BITS]
    n = listed(table)
    if n == 0:
        for i in range(size):
            state[BUCKETS + i] = -1
        return
    s = 0
    count = 0
    for i in range(size):
        state[BUCKETS + i] = table[BACKEND, s]
        count += 1
        if count >= table[WEIGHT, s]:
            count = 0
            s = s + 1 if s + 1 < n else 0


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def _table_bits(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"table_bits must be an integer, got {value!r}")
    if not 4 <= int(value) <= 20:
        raise ValueError(f"table_bits must be in 4..20 (IPVS's CONFIG_IP_VS_SH_TAB_BITS), got {int(value)}")
    return int(value)


def _bucket_state(bits: int, port: bool, fallback: bool) -> np.ndarray:
    """Return the sh / dh state with every bucket empty."""
    state = np.full(BUCKETS + (1 << bits), -1, dtype=np.int64)
    state[:BUCKETS] = 0
    state[BITS] = bits
    state[PORT] = port
    state[FALLBACK] = fallback
    return state


def _decisions_buffer(packed: np.ndarray, given: Any) -> np.ndarray:
    """Return the array a batch writes its decisions to.

    That is ``packed`` itself when it is a fresh conversion of the caller's
    ``given`` keys (the kernels read key i before they write decision i),
    else a new array. One large buffer instead of two per batch halves the
    memory a batch touches (and the page faults of fresh buffers).
    """
    if isinstance(given, np.ndarray) and np.may_share_memory(packed, given):
        return np.empty(len(packed), dtype=np.int64)
    return packed


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


class HashScheduler(Scheduler):
    """Keyed pick by address and optional client port (sh, dh, mh).

    A key is an address (``"192.0.2.7"``, an int, an ``ipaddress`` object),
    ``"192.0.2.7:5555"`` / ``"[2001:db8::7]:5555"`` or ``("192.0.2.7", 5555)``.
    Batches are integer arrays of IPv4 addresses, ``(n, 4)`` arrays of IPv6
    words or sequences of single keys, with ``ports=`` for one client port
    per key; integer arrays may also hold keys packed as
    ``(port << 32) | addr``. The port only counts where the scheduler's
    ``port`` flag is set, as in IPVS.
    """

    keyed = True

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
        if isinstance(keys_or_count, numbers.Integral):
            if ports is not None:
                raise TypeError(f"{type(self).__name__}.pick_many() needs an array of keys, not a count")
            return super().pick_many(keys_or_count, now)  # raises: a keyed scheduler needs keys
        packed = endpoint_keys(keys_or_count, ports)
        times = _times(now, len(packed))
        out = _decisions_buffer(packed, keys_or_count)
        if len(out):
            self._run(packed, times, out)
        return out

    def lookup_many(self, keys: Any, *, ports: Any = None) -> np.ndarray:
        """Return the backend each key would get now, without counting a connection (-1: none).

        A pure lookup: the pool's counters and the scheduler's state are
        left untouched (the schedule kernel runs in ``LOOKUP`` mode).
        """
        packed = endpoint_keys(keys, ports)
        out = _decisions_buffer(packed, keys)
        if len(out):
            self._schedule.entry(self.pool.table, self.state, self.fstate, packed, _NO_TIMES, out,
                                 0, len(out), LOOKUP)
        return out

    def lookup(self, key: Any) -> int:
        """Return the backend ``key`` would get now (-1: none), without counting a connection."""
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

    _schedule = sh_schedule
    _changed = sh_changed

    def __init__(self, weights=None, *, port: bool = False, fallback: bool = False,
                 table_bits: int = 8, **options) -> None:
        self.port = _flag(port, "port")
        self.fallback = _flag(fallback, "fallback")
        self.table_bits = _table_bits(table_bits)
        super().__init__(weights, **options)

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        state = _bucket_state(self.table_bits, self.port, self.fallback)
        fstate = np.zeros(0, dtype=np.float64)
        self._changed.entry(self.pool.table, state, fstate, EV_ADD, 0)
        return state, fstate

    @property
    def buckets(self) -> np.ndarray:
        """Backend id per bucket, -1 for an empty bucket (read-only)."""
        return _readonly(self.state[BUCKETS:])

    def __repr__(self) -> str:
        w = [int(x) for x in self.pool.weights[self.pool.list_order]]
        return f"SH(weights={w}, port={self.port}, fallback={self.fallback})"

"""Keys and host keys of Envoy's hashing balancers (ring hash, Maglev).

Request keys. Envoy's hash policy computes one 64-bit hash per request
(``Http::HashPolicyImpl::generateHash``); the balancers only see that value.
``pick(key=h)`` takes it as an int ``0 <= h < 2**64`` (batches: ``uint64``
arrays). A ``str`` key is hashed as Envoy's header, cookie and query hash
policies hash a value: ``xxHash64(value)``. With ``hash_policy="source_ip"``
integer keys are client IPv4 addresses and the kernel hashes their text,
as the ``connection_properties: {source_ip: true}`` policy does
(``xxHash64("10.0.0.7")``); that is how simulated clients reach a ring.

Host keys (``ThreadAwareLoadBalancerBase::hashKey``): the ``envoy.lb``
``hash_key`` metadata if set (``hash_keys=``), else the hostname with
``use_hostname_for_hashing``, else the address string ``"ip:port"``
(``"[v6]:port"``). A backend with no address hashes as ``10.0.0.(1+id):80``.

State (after the host-set fields and regions of :mod:`._hosts`): region 6
holds each id's key length (-1: the default key), then ``KEY_WORDS`` words
of key bytes per id (8 bytes a word, little-endian), a scratch buffer, and
the policy's own region (the ring, or the Maglev table).
"""

from __future__ import annotations

import ipaddress
import numbers
from typing import Any, Sequence

import numpy as np

from ... import addresses as _addresses
from ... import strings
from ..._jit import kernel
from ..._table import BACKEND, EV_ADD
from ._base import EnvoyBase, flag
from ._hash import XX_HASH, hash_strings, xxhash64
from ._hosts import (
    CAP,
    HEADER,
    HOST_REGIONS,
    KEY_POLICY,
    KEYS_AT,
    R_KEYLEN,
    USE_HOSTNAME,
)

#: Longest host key (bytes); DNS names are at most 253.
KEY_BYTES = 256
KEY_WORDS = KEY_BYTES // 8
SCRATCH = 48  # int64 slots, one byte each: a dotted quad, or a key with its "_<replica>" suffix
DEFAULT_BASE = 0x0A000001
POLICIES = ("request", "source_ip")


@kernel(inline="always")
def scratch_at(state):
    return state[KEYS_AT] + state[CAP] * KEY_WORDS


@kernel
def format_ipv4(v, buf, start):
    """Write the dotted quad of the u32 ``v`` to ``buf[start:]``; return the end."""
    p = start
    for octet in range(3, -1, -1):
        x = (v >> (8 * octet)) & 0xFF
        if x >= 100:
            buf[p] = 48 + x // 100
            p += 1
        if x >= 10:
            buf[p] = 48 + (x // 10) % 10
            p += 1
        buf[p] = 48 + x % 10
        p += 1
        if octet:
            buf[p] = 46  # '.'
            p += 1
    return p


@kernel
def format_uint(v, buf, start):
    """Write the decimal digits of ``v >= 0`` to ``buf[start:]``; return the end."""
    digits = 1
    x = v
    while x >= 10:
        x //= 10
        digits += 1
    end = start + digits
    p = end - 1
    x = v
    while True:
        buf[p] = 48 + x % 10
        x //= 10
        p -= 1
        if x == 0:
            break
    return end


@kernel
def host_key(state, b, buf):
    """Write backend id ``b``'s host key to ``buf[0:]``; return its length."""
    n = state[HEADER + R_KEYLEN * state[CAP] + b]
    if n < 0:
        p = format_ipv4((DEFAULT_BASE + b) & 0xFFFFFFFF, buf, 0)
        buf[p] = 58  # ':'
        return format_uint(80, buf, p + 1)
    words = state[KEYS_AT] + b * KEY_WORDS
    for t in range(n):
        buf[t] = (state[words + (t >> 3)] >> (8 * (t & 7))) & 0xFF
    return n


@kernel(inline="always")
def request_hash(state, key):
    """Return the 64-bit request hash of a kernel key (as int64 bits)."""
    if state[KEY_POLICY] == 1:
        scratch = scratch_at(state)
        buf = state[scratch:scratch + SCRATCH]
        return xxhash64(buf, 0, format_ipv4(key, buf, 0), 0)
    return key


def _u64(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be a 64-bit hash (int 0..2**64-1) or a string, got {value!r}")
    v = int(value)
    if not 0 <= v < 1 << 64:
        raise ValueError(f"{what} = {v} is not a 64-bit unsigned hash (0..2**64-1)")
    return v - (1 << 64) if v >= 1 << 63 else v


class HashBalancer(EnvoyBase):
    """Keyed Envoy balancers: request keys and host keys (ring hash, Maglev).

    Parameters
    ----------
    hash_policy : {"request", "source_ip"}
        What an integer key is: the request's 64-bit hash (default), or a
        client IPv4 address hashed as Envoy's source-IP policy does.
    use_hostname_for_hashing : bool
        Hash hosts by hostname instead of address (``consistent_hashing_lb_config``).
    hostnames : sequence of str, optional
        One hostname per backend (needed with ``use_hostname_for_hashing``).
    hash_keys : sequence of str or None, optional
        ``envoy.lb`` ``hash_key`` metadata per backend: overrides both.
    """

    keyed = True
    randomized = False
    _int_regions = HOST_REGIONS + 1
    _int_blocks = tuple((k, 1) for k in range(HOST_REGIONS + 1))

    def __init__(self, weights=None, *, hash_policy: str = "request", use_hostname_for_hashing: bool = False,
                 hostnames: Sequence[str] | None = None, hash_keys: Sequence[str | None] | None = None,
                 **options: Any) -> None:
        if hash_policy not in POLICIES:
            raise ValueError(f"hash_policy must be one of {POLICIES}, got {hash_policy!r}")
        self.hash_policy = hash_policy
        self.use_hostname_for_hashing = flag(use_hostname_for_hashing, "use_hostname_for_hashing")
        pool = options.get("pool")
        n = len(pool) if pool is not None else (0 if weights is None else len(weights))
        self._hostnames = self._names(hostnames, n, "hostnames")
        self._hash_keys = self._names(hash_keys, n, "hash_keys", optional=True)
        for b in range(n):
            self._key_bytes(b, None)  # validate every host key before anything is built
        super().__init__(weights, **options)

    @staticmethod
    def _names(values: Any, n: int, what: str, optional: bool = False) -> list[Any]:
        if values is None:
            return [None] * n
        if isinstance(values, (str, bytes)):
            raise TypeError(f"{what} must be a sequence with one entry per backend, not a single string")
        out = list(values)
        if len(out) != n:
            raise ValueError(f"{what} has {len(out)} entries but there are {n} backends")
        for i, v in enumerate(out):
            if v is None and optional:
                continue
            if not isinstance(v, str):
                raise TypeError(f"{what}[{i}] must be a string, got {v!r}")
        return out

    # -- host keys ----------------------------------------------------------------------------------------
    def _key_bytes(self, b: int, pool: Any) -> bytes | None:
        """Return the host key of backend id ``b`` (None: the default, which the kernel formats)."""
        hk = self._hash_keys[b] if b < len(self._hash_keys) else None
        if hk:
            key = hk
        elif self.use_hostname_for_hashing:
            name = self._hostnames[b] if b < len(self._hostnames) else None
            if not name:
                raise ValueError(f"backend {b} has no hostname, but use_hostname_for_hashing is set "
                                 "(give hostnames=[...] or add_backend(hostname=...))")
            key = name
        else:
            if pool is None:
                return None
            addr = pool.addresses[b]
            if addr is None:
                return None
            key = _addresses.endpoint_string(addr, pool.ports[b])
        data = key.encode("utf-8")
        if not data or len(data) > KEY_BYTES:
            raise ValueError(f"backend {b}: host key {key!r} must have 1..{KEY_BYTES} bytes")
        return data

    def _store_key(self, state: np.ndarray, b: int) -> None:
        cap = int(state[CAP])
        data = self._key_bytes(b, self.pool)
        if data is None:
            state[HEADER + R_KEYLEN * cap + b] = -1
            return
        padded = data + bytes(-len(data) % 8)
        words = np.frombuffer(padded, dtype="<u8").view(np.int64)
        start = int(state[KEYS_AT]) + b * KEY_WORDS
        state[start: start + KEY_WORDS] = 0
        state[start: start + len(words)] = words
        state[HEADER + R_KEYLEN * cap + b] = len(data)

    def _fill_new(self, state: np.ndarray, fstate: np.ndarray) -> None:
        cap = int(state[CAP])
        state[HEADER + R_KEYLEN * cap: HEADER + (R_KEYLEN + 1) * cap] = -1
        for b in range(self.pool.n_ids):
            self._store_key(state, b)

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        super()._configure(state, fstate)
        cap = int(state[CAP])
        state[KEYS_AT] = HEADER + self._int_regions * cap
        state[KEY_POLICY] = POLICIES.index(self.hash_policy)
        state[USE_HOSTNAME] = self.use_hostname_for_hashing

    def _extra_int(self, capacity: int) -> int:
        return capacity * KEY_WORDS + SCRATCH + self._policy_size()

    def _policy_size(self) -> int:
        """int64 values of the policy's own region."""
        raise NotImplementedError(type(self).__name__)

    def _policy_at(self, state: np.ndarray) -> int:
        return int(state[KEYS_AT]) + int(state[CAP]) * KEY_WORDS + SCRATCH

    def _copy_extra(self, old: np.ndarray, new: np.ndarray, old_cap: int, new_cap: int) -> None:
        new[KEYS_AT] = HEADER + self._int_regions * new_cap
        new[HEADER + R_KEYLEN * new_cap + old_cap: HEADER + (R_KEYLEN + 1) * new_cap] = -1
        src = int(old[KEYS_AT])
        dst = int(new[KEYS_AT])
        new[dst: dst + old_cap * KEY_WORDS] = old[src: src + old_cap * KEY_WORDS]
        size = self._policy_size()
        a, b = self._policy_at(old), self._policy_at(new)
        new[b: b + size] = old[a: a + size]
        self._moved_policy(new, b)

    def _moved_policy(self, state: np.ndarray, start: int) -> None:
        """Record where the policy's region now starts."""

    def _pool_changed(self, event: int, where: int) -> None:
        if event == EV_ADD:
            b = int(self.pool.table[BACKEND, where])
            while len(self._hostnames) <= b:
                self._hostnames.append(self._pending.get("hostname") if len(self._hostnames) == b else None)
            while len(self._hash_keys) <= b:
                self._hash_keys.append(self._pending.get("hash_key") if len(self._hash_keys) == b else None)
            self._store_key(self.state, b)
        super()._pool_changed(event, where)

    _pending: dict[str, Any] = {}

    def add_backend(self, weight: int = 1, *, hostname: str | None = None, hash_key: str | None = None,
                    **options: Any) -> int:
        """Add a backend (see :meth:`Pool.add`), with its hostname and ``hash_key`` metadata if any."""
        for v, what in ((hostname, "hostname"), (hash_key, "hash_key")):
            if v is not None and not isinstance(v, str):
                raise TypeError(f"{what} must be a string, got {v!r}")
        if self.use_hostname_for_hashing and not hostname and not hash_key:
            raise ValueError("use_hostname_for_hashing is set: add_backend() needs hostname=")
        self._pending = {"hostname": hostname, "hash_key": hash_key}
        try:
            return super().add_backend(weight, **options)
        finally:
            self._pending = {}

    def host_key(self, backend: int) -> str:
        """Return the string Envoy hashes for a backend (hash_key, hostname or ``"ip:port"``)."""
        b = self.pool.check_id(backend, listed=False)
        data = self._key_bytes(b, self.pool)
        if data is None:
            return f"{ipaddress.IPv4Address((DEFAULT_BASE + b) & 0xFFFFFFFF)}:80"
        return data.decode("utf-8")

    # -- request keys ---------------------------------------------------------------------------------------
    def _key(self, key: Any) -> int:
        if key is None:
            raise TypeError(f"{type(self).__name__}.pick() needs key= (a 64-bit request hash or a string)")
        if self.hash_policy == "source_ip":
            if isinstance(key, (bytes, bytearray)):
                raise TypeError("with hash_policy='source_ip' a key is a client IPv4 address, not bytes")
            addr = _addresses.parse(key, "key")
            if addr.version != 4:
                raise ValueError(f"hash_policy='source_ip' takes IPv4 clients; for {addr} pass "
                                 f"xxhash64_of({str(addr)!r}) with hash_policy='request'")
            return int(addr)
        if isinstance(key, (str, bytes, bytearray)):
            return int(hash_strings([key])[0])
        if isinstance(key, (numbers.Integral, np.integer)):
            return _u64(key, "key")
        raise TypeError(f"key must be a 64-bit hash (int) or a string, got {type(key).__name__}")

    def _keys(self, keys: Any) -> np.ndarray:
        if strings.is_string_batch(keys):
            if self.hash_policy == "source_ip":
                batch = [keys] if isinstance(keys, (str, bytes)) else keys
                return np.array([self._key(k) for k in batch], dtype=np.int64)
            return hash_strings(keys if not isinstance(keys, (str, bytes)) else [keys])
        arr = np.asarray(keys)
        if arr.ndim != 1:
            raise ValueError(f"keys must be 1-D, got shape {arr.shape}")
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype == np.uint64:
            out = np.ascontiguousarray(arr).view(np.int64)
        elif arr.dtype.kind in "iu":
            if arr.min() < 0:
                i = int(np.flatnonzero(arr < 0)[0])
                raise ValueError(f"keys[{i}] = {arr[i]} is not a 64-bit unsigned hash")
            out = np.ascontiguousarray(arr, dtype=np.int64)
        elif arr.dtype == object:
            out = np.array([self._key(k) for k in arr.tolist()], dtype=np.int64)
        else:
            raise TypeError(f"keys must be integers (64-bit hashes) or strings, got dtype {arr.dtype}")
        if self.hash_policy == "source_ip" and arr.dtype != object:
            if int(out.min()) < 0 or int(out.max()) > 0xFFFFFFFF:
                i = int(np.flatnonzero((out < 0) | (out > 0xFFFFFFFF))[0])
                raise ValueError(f"keys[{i}] is not an IPv4 address (hash_policy='source_ip')")
        return out

    def lookup(self, key: Any) -> int:
        """Return the backend ``key`` maps to now (-1: none), without counting a connection."""
        return int(self.lookup_many([key] if not isinstance(key, (list, np.ndarray)) else key)[0])

    def lookup_many(self, keys: Any) -> np.ndarray:
        """Return the backend of each key now (-1: none), counting nothing (a pure lookup)."""
        from ..._table import LOOKUP

        arr = self._keys(keys)
        out = np.empty(len(arr), dtype=np.int64)
        if len(out):
            self._schedule.entry(self.pool.table, self.state, self.fstate, arr, np.zeros(1), out, 0, len(out),
                                 LOOKUP)
        return out


__all__ = ["HashBalancer", "host_key", "request_hash", "XX_HASH", "KEY_WORDS"]

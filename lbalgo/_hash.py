"""Hashing shared by the IPVS hashing schedulers (sh, dh, mh).

Kernels
    ``hash_32(v, bits)``
        ``include/linux/hash.h`` (generic version): the high ``bits`` bits of
        ``v * 0x61C88647`` mod 2**32.
    ``hsiphash32(m, k0hi, k0lo, k1hi, k1lo)``
        ``hsiphash`` of the four little-endian bytes of the u32 ``m`` as a
        64-bit kernel computes it: SipHash-1-3 (``lib/siphash.c``), the
        64-bit result truncated to 32 bits. The key words are passed as
        32-bit halves.

SipHash needs 64-bit lanes with wrapping adds and rotations. Compiled, they
are native ``uint64``. As plain Python (``NUMBA_DISABLE_JIT=1``) NumPy
scalars would warn on ``uint64`` wrap-around, so there each lane is held as
two 32-bit halves that never overflow; both give the same numbers.

Python helpers
    The kernel key of a keyed pick is one int64: ``(port << 32) | addr32``
    with ``addr32`` the folded address (:func:`lbalgo.addresses.fold32`) and
    ``port`` the client source port (0..65535). :func:`endpoint_key` and
    :func:`endpoint_keys` convert what users pass.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

from . import addresses
from ._jit import kernel
from .errors import InvalidArgument, InvalidArgumentType, short

M32 = 0xFFFFFFFF
GOLDEN_RATIO_32 = 0x61C88647
#: Largest packed key: port 65535, address 2**32 - 1.
MAX_PACKED = (0xFFFF << 32) | M32


@kernel(inline="always")
def hash_32(v, bits):
    """``hash_32(v, bits)`` of ``include/linux/hash.h`` for ``0 <= v < 2**32``."""
    # v < 2**32 and the constant < 2**31: the product fits in int64.
    return ((v * GOLDEN_RATIO_32) & M32) >> (32 - bits)


@kernel(inline="always")
def _sipround(a0, a1, b0, b1, c0, c1, d0, d1):
    """One SipRound on lanes v0..v3 given as (high, low) 32-bit halves."""
    # v0 += v1; v1 = rol(v1, 13); v1 ^= v0; v0 = rol(v0, 32)
    lo = a1 + b1
    a0 = (a0 + b0 + (lo >> 32)) & M32
    a1 = lo & M32
    b0, b1 = ((b0 << 13) | (b1 >> 19)) & M32, ((b1 << 13) | (b0 >> 19)) & M32
    b0 ^= a0
    b1 ^= a1
    a0, a1 = a1, a0
    # v2 += v3; v3 = rol(v3, 16); v3 ^= v2
    lo = c1 + d1
    c0 = (c0 + d0 + (lo >> 32)) & M32
    c1 = lo & M32
    d0, d1 = ((d0 << 16) | (d1 >> 16)) & M32, ((d1 << 16) | (d0 >> 16)) & M32
    d0 ^= c0
    d1 ^= c1
    # v0 += v3; v3 = rol(v3, 21); v3 ^= v0
    lo = a1 + d1
    a0 = (a0 + d0 + (lo >> 32)) & M32
    a1 = lo & M32
    d0, d1 = ((d0 << 21) | (d1 >> 11)) & M32, ((d1 << 21) | (d0 >> 11)) & M32
    d0 ^= a0
    d1 ^= a1
    # v2 += v1; v1 = rol(v1, 17); v1 ^= v2; v2 = rol(v2, 32)
    lo = c1 + b1
    c0 = (c0 + b0 + (lo >> 32)) & M32
    c1 = lo & M32
    b0, b1 = ((b0 << 17) | (b1 >> 15)) & M32, ((b1 << 17) | (b0 >> 15)) & M32
    b0 ^= c0
    b1 ^= c1
    c0, c1 = c1, c0
    return a0, a1, b0, b1, c0, c1, d0, d1


@kernel
def _hsiphash32_halves(m, k0hi, k0lo, k1hi, k1lo):
    """``hsiphash32`` on (high, low) halves: never overflows, so it runs as plain Python too."""
    a0 = 0x736F6D65 ^ k0hi
    a1 = 0x70736575 ^ k0lo
    b0 = 0x646F7261 ^ k1hi
    b1 = 0x6E646F6D ^ k1lo
    c0 = 0x6C796765 ^ k0hi
    c1 = 0x6E657261 ^ k0lo
    d0 = 0x74656462 ^ k1hi
    d1 = 0x79746573 ^ k1lo
    # The 4-byte message is the final block: b = len << 56 | m.
    d0 ^= 0x04000000
    d1 ^= m
    a0, a1, b0, b1, c0, c1, d0, d1 = _sipround(a0, a1, b0, b1, c0, c1, d0, d1)
    a0 ^= 0x04000000
    a1 ^= m
    c1 ^= 0xFF
    a0, a1, b0, b1, c0, c1, d0, d1 = _sipround(a0, a1, b0, b1, c0, c1, d0, d1)
    a0, a1, b0, b1, c0, c1, d0, d1 = _sipround(a0, a1, b0, b1, c0, c1, d0, d1)
    a0, a1, b0, b1, c0, c1, d0, d1 = _sipround(a0, a1, b0, b1, c0, c1, d0, d1)
    return a1 ^ b1 ^ c1 ^ d1


# uint64 constants for the native version (a plain int would make Numba mix
# int64 and uint64, which it types as float64).
_U = np.uint64
_C0, _C1 = _U(0x736F6D6570736575), _U(0x646F72616E646F6D)
_C2, _C3 = _U(0x6C7967656E657261), _U(0x7465646279746573)
_S13, _S51, _S16, _S48, _S21, _S43, _S17, _S47, _S32 = (_U(x) for x in (13, 51, 16, 48, 21, 43, 17, 47, 32))
_LEN4 = _U(4 << 56)
_FF = _U(0xFF)
_LOW32 = _U(M32)


@kernel(inline="always")
def _sipround64(v0, v1, v2, v3):
    """One SipRound on uint64 lanes (wrapping adds)."""
    v0 += v1
    v1 = (v1 << _S13) | (v1 >> _S51)
    v1 ^= v0
    v0 = (v0 << _S32) | (v0 >> _S32)
    v2 += v3
    v3 = (v3 << _S16) | (v3 >> _S48)
    v3 ^= v2
    v0 += v3
    v3 = (v3 << _S21) | (v3 >> _S43)
    v3 ^= v0
    v2 += v1
    v1 = (v1 << _S17) | (v1 >> _S47)
    v1 ^= v2
    v2 = (v2 << _S32) | (v2 >> _S32)
    return v0, v1, v2, v3


@kernel
def _hsiphash32_native(m, k0hi, k0lo, k1hi, k1lo):
    """``hsiphash32`` on native uint64 lanes: about 4x faster compiled; wraps silently only there."""
    k0 = (_U(k0hi) << _S32) | _U(k0lo)
    k1 = (_U(k1hi) << _S32) | _U(k1lo)
    v0 = _C0 ^ k0
    v1 = _C1 ^ k1
    v2 = _C2 ^ k0
    v3 = _C3 ^ k1
    b = _LEN4 | _U(m)
    v3 ^= b
    v0, v1, v2, v3 = _sipround64(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= _FF
    v0, v1, v2, v3 = _sipround64(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround64(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround64(v0, v1, v2, v3)
    return np.int64((v0 ^ v1 ^ v2 ^ v3) & _LOW32)


#: Compiled kernels hash on native uint64 lanes. As plain Python
#: (``NUMBA_DISABLE_JIT=1``) NumPy uint64 scalars would warn on every
#: wrap-around, so the same call runs the 32-bit-halves version there. Numba
#: folds this constant and compiles only one branch; the tests check that both
#: versions agree with the kernel's published vectors.
NATIVE_U64 = os.environ.get("NUMBA_DISABLE_JIT", "0").strip() in ("", "0")


@kernel
def hsiphash32(m, k0hi, k0lo, k1hi, k1lo):
    """64-bit-kernel ``hsiphash(&m, 4, key)`` for a u32 ``m``: SipHash-1-3, low 32 bits.

    The key words are ``k0 = k0hi << 32 | k0lo`` and ``k1 = k1hi << 32 | k1lo``.
    """
    if NATIVE_U64:
        return _hsiphash32_native(m, k0hi, k0lo, k1hi, k1lo)
    return _hsiphash32_halves(m, k0hi, k0lo, k1hi, k1lo)


# -- keys ----------------------------------------------------------------------------


def port_number(value: Any, what: str) -> int:
    """Return ``value`` as a port number 0..65535, or raise naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(f"{what}: port must be an integer 0..65535, got {short(value)}")
    p = int(value)
    if not 0 <= p <= 65535:
        raise InvalidArgument(f"{what}: port must be in 0..65535, got {p}")
    return p


def endpoint_key(key: Any, what: str = "key") -> int:
    """Return one keyed-pick key as the packed int ``(port << 32) | fold32(address)``.

    Accepted: an address (int below 2**32 = IPv4, larger int = IPv6, string,
    ``ipaddress`` object), ``"ip:port"`` / ``"[v6]:port"``, or an
    ``(address, port)`` tuple. Without a port the port is 0.
    """
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)) and 0 <= key <= M32:
        return int(key)
    if isinstance(key, tuple):
        if len(key) != 2:
            raise InvalidArgument(f"{what} {short(key)} must be an (address, port) pair")
        addr = addresses.fold32(addresses.parse(key[0], what))
        return port_number(key[1], f"{what} {key!r}") << 32 | addr
    if isinstance(key, str):
        text = key.strip()
        if text.startswith("[") or text.count(":") == 1:
            addr, port = addresses.parse_endpoint(text, what)
            return port << 32 | addresses.fold32(addr)
    return addresses.fold32(addresses.parse(key, what))


def endpoint_keys(keys: Any, ports: Any = None) -> np.ndarray:
    """Return a batch of keys as packed int64 keys (see :func:`endpoint_key`).

    ``keys`` is a 1-D integer array of IPv4 addresses (or of keys already
    packed as ``(port << 32) | addr``), an ``(n, 4)`` integer array of IPv6
    words, or a sequence of anything :func:`endpoint_key` accepts.
    ``ports``, if given, holds one client port per key and replaces the
    port part of every key.
    """
    from ._validate import key_batch
    from .addresses import key_array

    key_batch(keys)
    if not isinstance(keys, np.ndarray) and not isinstance(keys, (str, bytes)):
        seq = list(keys)
        keys = seq
        # A list of IPv4 integers takes the array path; other ints (IPv6) go one by one.
        if seq and all(type(k) is int for k in seq) and 0 <= min(seq) and max(seq) <= M32:
            keys = np.asarray(seq, dtype=np.int64)
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu" and keys.ndim == 1:
        arr = keys
        # uint8/16/32 arrays are valid by their type: skip the two passes of the check.
        if arr.size and (arr.dtype.kind == "i" or arr.dtype.itemsize > 4) and (
                arr.min() < 0 or arr.max() > MAX_PACKED):
            i = int(np.flatnonzero((arr < 0) | (arr > MAX_PACKED))[0])
            raise InvalidArgument(f"keys[{i}] = {arr[i]} is neither an IPv4 address "
                             "nor a packed (port << 32) | addr key")
        packed = np.ascontiguousarray(arr, dtype=np.int64)
    elif isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
        packed = key_array(keys)  # (n, 4) IPv6 words, folded
    else:
        seq = keys.tolist() if isinstance(keys, np.ndarray) else keys
        packed = np.array([endpoint_key(k, f"keys[{i}]") for i, k in enumerate(seq)], dtype=np.int64)
        if packed.ndim != 1:
            packed = packed.reshape(-1)
    if ports is None:
        return packed
    p = np.asarray(ports)
    if p.shape != packed.shape:
        raise InvalidArgument(f"ports has shape {p.shape} but there are {len(packed)} keys")
    if p.dtype.kind not in "iu":
        raise InvalidArgumentType(f"ports must be integers 0..65535, got dtype {p.dtype}")
    if p.size and (p.min() < 0 or p.max() > 65535):
        i = int(np.flatnonzero((p < 0) | (p > 65535))[0])
        raise InvalidArgument(f"ports[{i}] = {p[i]} is not a port number (0..65535)")
    return (packed & M32) | (p.astype(np.int64) << 32)

"""The two string hashes Envoy's load balancers use, as compiled kernels.

``xxhash64(data, start, length, seed)``
    XXH64 of ``data[start:start + length]`` (a ``uint8`` array), the hash of
    ``HashUtil::xxHash64`` (``source/common/common/hash.h``). Envoy hashes
    ring entries, Maglev offsets (seed 0) and skips (seed 1), and the values
    of its HTTP hash policies (header, cookie, source IP) with it.
``murmur2_64(data, start, length, seed)``
    The 64-bit MurmurHash2 of libstdc++'s ``_Hash_bytes`` that
    ``MurmurHash::murmurHash2`` reproduces (seed ``0xc70f6907``); ring hash
    with ``hash_function: MURMUR_HASH_2``.

Both return the unsigned 64-bit result as an int64 with the same bits.
Compiled, they run on native ``uint64`` lanes. As plain Python
(``NUMBA_DISABLE_JIT=1``) NumPy would warn on every wrap-around, so there
the same call runs a version on Python integers masked to 64 bits; the
tests check both against Envoy's published values.

Python helpers hash ``str`` / ``bytes`` (:func:`xxhash64_of`,
:func:`murmur2_64_of`) and batches of strings at once (:func:`hash_strings`).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ... import strings
from ..._jit import kernel

M64 = 0xFFFFFFFFFFFFFFFF
#: ``MurmurHash::STD_HASH_SEED``.
MURMUR_SEED = 0xC70F6907
#: The hash functions by name, as ``RingHash.hash_function`` spells them.
XX_HASH, MURMUR_HASH_2 = 0, 1

NATIVE_U64 = os.environ.get("NUMBA_DISABLE_JIT", "0").strip() in ("", "0")

_U = np.uint64
_P1, _P2, _P3 = _U(0x9E3779B185EBCA87), _U(0xC2B2AE3D27D4EB4F), _U(0x165667B19E3779F9)
_P4, _P5 = _U(0x85EBCA77C2B2AE63), _U(0x27D4EB2F165667C5)
_MUL = _U(0xC6A4A7935BD1E995)
_R1, _R7, _R11, _R12, _R18, _R23, _R27, _R31 = (_U(x) for x in (1, 7, 11, 12, 18, 23, 27, 31))
_S8, _S29, _S32, _S33, _S47, _S64 = (_U(x) for x in (8, 29, 32, 33, 47, 64))


@kernel(inline="always")
def _rotl(x, r):
    return (x << r) | (x >> (_S64 - r))


@kernel(inline="always")
def _read64(data, p):
    """Little-endian u64 at ``data[p:p + 8]``."""
    v = _U(0)
    for k in range(7, -1, -1):
        v = (v << _S8) | _U(data[p + k])
    return v


@kernel(inline="always")
def _read32(data, p):
    v = _U(0)
    for k in range(3, -1, -1):
        v = (v << _S8) | _U(data[p + k])
    return v


@kernel(inline="always")
def _xx_round(acc, lane):
    acc += lane * _P2
    return _rotl(acc, _R31) * _P1


@kernel
def _xxhash64_native(data, start, length, seed):
    """XXH64 on uint64 lanes (compiled)."""
    s = _U(seed)
    p = start
    end = start + length
    if length >= 32:
        v1 = s + _P1 + _P2
        v2 = s + _P2
        v3 = s
        v4 = s - _P1
        limit = end - 32
        while p <= limit:
            v1 = _xx_round(v1, _read64(data, p))
            v2 = _xx_round(v2, _read64(data, p + 8))
            v3 = _xx_round(v3, _read64(data, p + 16))
            v4 = _xx_round(v4, _read64(data, p + 24))
            p += 32
        h = _rotl(v1, _R1) + _rotl(v2, _R7) + _rotl(v3, _R12) + _rotl(v4, _R18)
        h = (h ^ _xx_round(_U(0), v1)) * _P1 + _P4
        h = (h ^ _xx_round(_U(0), v2)) * _P1 + _P4
        h = (h ^ _xx_round(_U(0), v3)) * _P1 + _P4
        h = (h ^ _xx_round(_U(0), v4)) * _P1 + _P4
    else:
        h = s + _P5
    h += _U(length)
    while p + 8 <= end:
        h ^= _xx_round(_U(0), _read64(data, p))
        h = _rotl(h, _R27) * _P1 + _P4
        p += 8
    if p + 4 <= end:
        h ^= _read32(data, p) * _P1
        h = _rotl(h, _R23) * _P2 + _P3
        p += 4
    while p < end:
        h ^= _U(data[p]) * _P5
        h = _rotl(h, _R11) * _P1
        p += 1
    h ^= h >> _S33
    h *= _P2
    h ^= h >> _S29
    h *= _P3
    h ^= h >> _S32
    return np.int64(h)


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _xxhash64_py(data, start, length, seed):
    """XXH64 on Python integers (the plain-Python path)."""
    p1, p2, p3, p4, p5 = (int(x) for x in (_P1, _P2, _P3, _P4, _P5))

    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M64

    def rnd(acc, lane):
        return rotl((acc + lane * p2) & M64, 31) * p1 & M64

    buf = bytes(np.asarray(data[start:start + length], dtype=np.uint8))
    s = int(seed) & M64
    p, n = 0, len(buf)
    if n >= 32:
        v = [(s + p1 + p2) & M64, (s + p2) & M64, s, (s - p1) & M64]
        while p <= n - 32:
            v = [rnd(v[k], int.from_bytes(buf[p + 8 * k:p + 8 * k + 8], "little")) for k in range(4)]
            p += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M64
        for lane in v:
            h = ((h ^ rnd(0, lane)) * p1 + p4) & M64
    else:
        h = (s + p5) & M64
    h = (h + n) & M64
    while p + 8 <= n:
        h ^= rnd(0, int.from_bytes(buf[p:p + 8], "little"))
        h = (rotl(h, 27) * p1 + p4) & M64
        p += 8
    if p + 4 <= n:
        h ^= int.from_bytes(buf[p:p + 4], "little") * p1 & M64
        h = (rotl(h, 23) * p2 + p3) & M64
        p += 4
    while p < n:
        h ^= buf[p] * p5 & M64
        h = rotl(h, 11) * p1 & M64
        p += 1
    h ^= h >> 33
    h = h * p2 & M64
    h ^= h >> 29
    h = h * p3 & M64
    h ^= h >> 32
    return _signed(h)


@kernel
def _murmur2_64_native(data, start, length, seed):
    """libstdc++ ``_Hash_bytes`` (64-bit) on uint64 lanes (compiled)."""
    end = start + length
    aligned = start + (length & ~7)
    h = _U(seed) ^ (_U(length) * _MUL)
    p = start
    while p < aligned:
        k = _read64(data, p) * _MUL
        k = (k ^ (k >> _S47)) * _MUL
        h ^= k
        h *= _MUL
        p += 8
    if length & 7:
        k = _U(0)
        for q in range(end - 1, aligned - 1, -1):
            k = (k << _S8) + _U(data[q])
        h ^= k
        h *= _MUL
    h = (h ^ (h >> _S47)) * _MUL
    h ^= h >> _S47
    return np.int64(h)


def _murmur2_64_py(data, start, length, seed):
    """``_Hash_bytes`` on Python integers (the plain-Python path)."""
    mul = int(_MUL)
    buf = bytes(np.asarray(data[start:start + length], dtype=np.uint8))
    n = len(buf)
    aligned = n & ~7
    h = (int(seed) ^ (n * mul)) & M64
    for p in range(0, aligned, 8):
        k = int.from_bytes(buf[p:p + 8], "little") * mul & M64
        k = (k ^ (k >> 47)) * mul & M64
        h = (h ^ k) * mul & M64
    if n & 7:
        h = (h ^ int.from_bytes(buf[aligned:], "little")) * mul & M64
    h = (h ^ (h >> 47)) * mul & M64
    h ^= h >> 47
    return _signed(h)


@kernel
def xxhash64(data, start, length, seed):
    """XXH64 of ``data[start:start + length]`` with ``seed``, as int64 bits."""
    if NATIVE_U64:
        return _xxhash64_native(data, start, length, seed)
    return _xxhash64_py(data, start, length, seed)


@kernel
def murmur2_64(data, start, length, seed):
    """libstdc++'s 64-bit MurmurHash2 of ``data[start:start + length]``, as int64 bits."""
    if NATIVE_U64:
        return _murmur2_64_native(data, start, length, seed)
    return _murmur2_64_py(data, start, length, seed)


@kernel
def _hash_batch(data, offsets, function, out):
    """``out[i]`` = hash of string i (``data[offsets[i]:offsets[i + 1]]``), seed 0 / the std seed."""
    for i in range(len(out)):
        a = offsets[i]
        if function == XX_HASH:
            out[i] = xxhash64(data, a, offsets[i + 1] - a, 0)
        else:
            out[i] = murmur2_64(data, a, offsets[i + 1] - a, MURMUR_SEED)


def _as_bytes(value: Any, what: str) -> np.ndarray:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{what} must be a str or bytes, got {type(value).__name__}")
    return np.frombuffer(bytes(value), dtype=np.uint8)


def _unsigned(v: int) -> int:
    return int(v) & M64


def xxhash64_of(value: str | bytes, seed: int = 0) -> int:
    """``HashUtil::xxHash64(value, seed)``: the unsigned 64-bit XXH64 of a string (UTF-8) or bytes."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= M64:
        raise ValueError(f"seed must be an integer in 0..2**64-1, got {seed!r}")
    buf = _as_bytes(value, "value")
    s = int(seed)
    return _unsigned(xxhash64(buf, 0, len(buf), s - (1 << 64) if s >= 1 << 63 else s))


def murmur2_64_of(value: str | bytes, seed: int = MURMUR_SEED) -> int:
    """``MurmurHash::murmurHash2(value, seed)``: libstdc++'s 64-bit MurmurHash2, unsigned."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 1 << 63:
        raise ValueError(f"seed must be an integer in 0..2**63-1, got {seed!r}")
    buf = _as_bytes(value, "value")
    return _unsigned(murmur2_64(buf, 0, len(buf), int(seed)))


def hash_strings(values: Sequence[Any], function: int = XX_HASH, what: str = "keys") -> np.ndarray:
    """Hash a batch of strings at once: int64 array of the 64-bit hashes' bits (seed 0 for XXH64)."""
    data, offsets = strings.encode(values, what)
    out = np.empty(len(offsets) - 1, dtype=np.int64)
    if len(out):
        _hash_batch(data, offsets, function, out)
    return out

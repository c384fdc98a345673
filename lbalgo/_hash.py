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

The kernel key of a keyed pick, ``(port << 32) | addr32``, is packed by
:func:`lbalgo.addresses.endpoint_key` and :func:`lbalgo.addresses.endpoint_keys`.
"""

from __future__ import annotations

import os

import numpy as np

from ._jit import kernel

M32 = 0xFFFFFFFF
GOLDEN_RATIO_32 = 0x61C88647


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
#: versions agree with the published test vectors of each hash.
NATIVE_U64 = os.environ.get("NUMBA_DISABLE_JIT", "0").strip() in ("", "0")


@kernel
def hsiphash32(m, k0hi, k0lo, k1hi, k1lo):
    """64-bit-kernel ``hsiphash(&m, 4, key)`` for a u32 ``m``: SipHash-1-3, low 32 bits.

    The key words are ``k0 = k0hi << 32 | k0lo`` and ``k1 = k1hi << 32 | k1lo``.
    """
    if NATIVE_U64:
        return _hsiphash32_native(m, k0hi, k0lo, k1hi, k1lo)
    return _hsiphash32_halves(m, k0hi, k0lo, k1hi, k1lo)

"""HAProxy 2.6's hash functions (``src/hash.c``) and its avalanche mix (``full_hash``, ``haproxy/tools.h``).

All arithmetic is unsigned 32-bit, wrapping::

    sdbm:  h = 0;      for each byte c: h = c + (h << 6) + (h << 16) - h
    djb2:  h = 5381;   for each byte c: h = h * 33 + c
    wt6:   h0, h1 = 0xa53c965a, 0x5ca6953a; step0, step1 = 6, 18
           for each byte t: h0 = ~(h0 ^ t); h1 = ~(h1 + t)
                            h0, h1 = rotl(h1, step0), rotl(h0, step1)
                            t = ((h0 >> 16) ^ h1) & 0xffff
                            step0, step1 = t & 31, t >> 11
           result h0 ^ h1
    crc32: the standard reflected CRC-32 (zlib.crc32)
    full_hash(a): Bob Jenkins' 6-step integer mix, then a * 3221225473

``hash-type`` picks the function (``sdbm`` by default) and whether
``full_hash`` follows it (``avalanche``; implied by a bare ``hash-type
consistent``).

sdbm and djb2 are polynomial: after a string ``p`` the hash of ``p + q``
is ``h(p) * k**len(q) + h0(q)`` mod 2**32 (``k`` = 65599 for sdbm, since
``(h << 6) + (h << 16) - h = 65599 * h``, and 33 for djb2; ``h0`` starts
from 0). So the text of an IPv4 key, ``a.b.c.d``, hashes an octet at a
time from :data:`IPV4_PARTS` (:func:`ipv4_poly_hash`): four lookups and
multiplications instead of 7 to 15 dependent byte steps.

Test vectors, ``/api/v1/items/42``: sdbm 0x95561f3d, djb2 0xadeb89aa, wt6
0xfccc4eea, crc32 0x9c971cc2; ``full_hash(0x7F010203) = 0xc244638a``.
"""

from __future__ import annotations

import numpy as np

from ..._jit import kernel
from .._crc32 import CRC_INIT, crc32_update

M32 = 0xFFFFFFFF
SDBM, DJB2, WT6, CRC32 = 0, 1, 2, 3
FUNCTIONS = {"sdbm": SDBM, "djb2": DJB2, "wt6": WT6, "crc32": CRC32}


@kernel(inline="always")
def full_hash(a):
    """HAProxy's ``full_hash``: Jenkins' integer mix, then a multiplication, mod 2**32."""
    a = (a + 0x7ED55D16 + (a << 12)) & M32
    a = (a ^ 0xC761C23C ^ (a >> 19)) & M32
    a = (a + 0x165667B1 + (a << 5)) & M32
    a = ((a + 0xD3A2646C) & M32) ^ ((a << 9) & M32)
    a = (a + 0xFD7046C5 + (a << 3)) & M32
    a = (a ^ 0xB55A4F09 ^ (a >> 16)) & M32
    # a * 3221225473 mod 2**32, with 3221225473 = 2**31 + 2**30 + 1: no 64-bit overflow
    return (((a << 31) & M32) + ((a << 30) & M32) + a) & M32


def _ipv4_parts() -> np.ndarray:
    octet = np.arange(256, dtype=np.int64)
    length = 1 + (octet >= 10) + (octet >= 100)
    digits = ((octet // 100, octet >= 100), (octet // 10 % 10, octet >= 10), (octet % 10, octet >= 0))
    parts = np.zeros((2, 2, 256, 2), dtype=np.int64)
    for function, k in ((SDBM, 65599), (DJB2, 33)):
        h = np.zeros(256, dtype=np.int64)
        for digit, shown in digits:
            h = np.where(shown, (h * k + 48 + digit) & M32, h)
        powers = np.array([pow(k, n, 1 << 32) for n in range(5)], dtype=np.int64)
        parts[function, 0, :, 0] = powers[length]
        parts[function, 0, :, 1] = h
        parts[function, 1, :, 0] = powers[length + 1]
        parts[function, 1, :, 1] = (h * k + 46) & M32  # then '.'
    return parts


#: ``IPV4_PARTS[function, dot, octet] = (k**len(part) mod 2**32, h0(part))`` for sdbm and djb2,
#: where ``part`` is the decimal text of ``octet``, followed by '.' when ``dot`` is 1.
IPV4_PARTS = _ipv4_parts()


@kernel(inline="always")
def mul32(a, b):
    """Return ``a * b mod 2**32`` for ``0 <= a, b < 2**32``.

    Written with 16-bit halves of ``b`` so that no int64 product overflows
    (as plain Python, NumPy would warn); LLVM compiles it to one 32-bit multiplication.
    """
    return (a * (b & 0xFFFF) + (((a * (b >> 16)) & 0xFFFF) << 16)) & M32


@kernel(inline="always")
def ipv4_poly_hash(function, ip):
    """Hash the dotted text of the IPv4 address ``ip`` with sdbm or djb2 (``function``), octet by octet."""
    h = 5381 if function == DJB2 else 0
    for shift in range(24, -8, -8):
        octet = (ip >> shift) & 0xFF
        dot = 1 if shift else 0
        h = (mul32(h, IPV4_PARTS[function, dot, octet, 0]) + IPV4_PARTS[function, dot, octet, 1]) & M32
    return h


@kernel(inline="always")
def hash_bytes(function, data, start, end):
    """``gen_hash`` over ``data[start:end]`` (any integer array of byte values)."""
    if function == DJB2:
        h = 5381
        for i in range(start, end):
            h = (h * 33 + np.int64(data[i])) & M32
        return h
    if function == WT6:
        h0 = 0xA53C965A
        h1 = 0x5CA6953A
        step0 = 6
        step1 = 18
        for i in range(start, end):
            t = np.int64(data[i]) & 0xFF
            h0 = ~(h0 ^ t) & M32
            h1 = ~(h1 + t) & M32
            t = ((h1 << step0) | (h1 >> (32 - step0))) & M32
            h1 = ((h0 << step1) | (h0 >> (32 - step1))) & M32
            h0 = t
            t = ((h0 >> 16) ^ h1) & 0xFFFF
            step0 = t & 0x1F
            step1 = t >> 11
        return h0 ^ h1
    if function == CRC32:
        return crc32_update(CRC_INIT, data, start, end) ^ M32
    h = 0
    for i in range(start, end):
        h = ((np.int64(data[i]) & 0xFF) + (h << 6) + (h << 16) - h) & M32
    return h


@kernel
def hash_strings(function, data, offsets, out):
    """``out[i] = STRING_TAG | gen_hash(string i)``; an empty string gives ``EMPTY``.

    ``STRING_TAG`` (bit 32) tells a hashed string from an IPv4 key.
    """
    for i in range(len(out)):
        start = offsets[i]
        end = offsets[i + 1]
        if end == start:
            out[i] = EMPTY
        else:
            out[i] = STRING_TAG | hash_bytes(function, data, start, end)


STRING_TAG = 1 << 32
#: An empty string key (a header that is missing or empty: HAProxy falls back to round robin).
EMPTY = 1 << 33

r"""CRC-32 and the text of an IPv4 address, for the string-hashing nginx and HAProxy schedulers.

CRC-32 here is the standard reflected CRC (polynomial ``0xEDB88320``, register
starting at ``0xFFFFFFFF``, final XOR ``0xFFFFFFFF``): ``zlib.crc32``, nginx's
``ngx_crc32_long`` / ``ngx_crc32_update`` (``src/core/ngx_crc32.h``) and
HAProxy's ``hash_crc32`` (``src/hash.c``). Kernels work on the *register*
(before the final XOR), so a hash can be continued across pieces, as nginx
does for ``host NUL port prev_hash``::

    reg = crc32_update(CRC_INIT, data, start, end)     # any number of pieces
    crc = reg ^ 0xFFFFFFFF

The update is linear in the register: after ``L`` more bytes, two registers
that differ by ``x`` differ by :func:`crc32_zeros` ``(x, L)``. So the CRC of
``prefix + key`` follows from the CRC of ``key``, its length and the
register after ``prefix`` (nginx ``hash``'s retries hash ``"<n>" + key``).

An IPv4 key (an int below 2**32) stands for the text ``a.b.c.d`` in places
where nginx and HAProxy hash a string (``hash $remote_addr``, a header
holding the client address): :func:`ipv4_text` writes that text.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel

M32 = 0xFFFFFFFF
CRC_INIT = 0xFFFFFFFF


def _table() -> np.ndarray:
    table = np.zeros(256, dtype=np.int64)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[n] = c
    return table


#: The byte-at-a-time table of the reflected polynomial 0xEDB88320.
CRC_TABLE = _table()


@kernel(inline="always")
def crc32_byte(reg, byte):
    """Return the register after one more byte."""
    return CRC_TABLE[(reg ^ byte) & 0xFF] ^ (reg >> 8)


@kernel(inline="always")
def crc32_update(reg, data, start, end):
    """Return the register after ``data[start:end]`` (any integer array holding byte values)."""
    for i in range(start, end):
        reg = CRC_TABLE[(reg ^ np.int64(data[i])) & 0xFF] ^ (reg >> 8)
    return reg


@kernel(inline="always")
def crc32_zeros(x, length):
    """``x`` advanced through ``length`` zero bytes (no initial or final XOR): the update's linear part."""
    for _ in range(length):
        x = CRC_TABLE[x & 0xFF] ^ (x >> 8)
    return x


@kernel(inline="always")
def decimal_register(n):
    """Return the CRC register after the decimal text of ``n`` (``0 <= n < 100``), from ``CRC_INIT``."""
    reg = CRC_INIT
    if n >= 10:
        reg = crc32_byte(reg, 48 + n // 10)
    return crc32_byte(reg, 48 + n % 10)


@kernel(inline="always")
def ipv4_text(ip, buf, start):
    """Write the dotted text of the IPv4 address ``ip`` to ``buf[start:]``; return its length (7..15)."""
    k = start
    for shift in range(24, -8, -8):
        octet = (ip >> shift) & 0xFF
        if octet >= 100:
            buf[k] = 48 + octet // 100
            k += 1
        if octet >= 10:
            buf[k] = 48 + (octet // 10) % 10
            k += 1
        buf[k] = 48 + octet % 10
        k += 1
        if shift:
            buf[k] = 46  # '.'
            k += 1
    return k - start


@kernel(inline="always")
def ipv4_text_crc(ip):
    """``(crc32, length)`` of the dotted text of the IPv4 address ``ip``, computed digit by digit."""
    reg = CRC_INIT
    length = 0
    for shift in range(24, -8, -8):
        octet = (ip >> shift) & 0xFF
        if octet >= 100:
            reg = crc32_byte(reg, 48 + octet // 100)
            length += 1
        if octet >= 10:
            reg = crc32_byte(reg, 48 + (octet // 10) % 10)
            length += 1
        reg = crc32_byte(reg, 48 + octet % 10)
        length += 1
        if shift:
            reg = crc32_byte(reg, 46)  # '.'
            length += 1
    return reg ^ M32, length


@kernel
def crc32_strings(data, offsets, out):
    """``out[i] = (len_i + 1) << 32 | crc32(string i)`` for the strings of :func:`lbalgo.strings.encode`.

    The packed form keeps the length (nginx's ``hash`` retries need it) and
    can never be mistaken for an IPv4 key (those are below 2**32).
    """
    for i in range(len(out)):
        start = offsets[i]
        end = offsets[i + 1]
        crc = crc32_update(CRC_INIT, data, start, end) ^ M32
        out[i] = ((end - start + 1) << 32) | crc

"""nginx-ip-hash: ``ip_hash`` (``ngx_http_upstream_ip_hash_module.c``).

::

    pick(client, now):
        single primary peer: as nginx-rr
        bytes = the first three octets of an IPv4 client (a.b.c of a.b.c.d),
                all 16 bytes of an IPv6 one
        h = 89
        repeat, at most 21 times:
            for each byte x: h = (h * 113 + x) mod 6271     (h carries over)
            w = h mod total_weight
            walk the peers in config order, w -= weight while w >= weight
            the peer where the walk stops: take it if usable
        after 21 misses: nginx-rr

``total_weight`` sums every primary peer's configured weight, ``down``
peers included, so marking a peer down moves only its own clients. The last
octet is ignored: a whole /24 lands on one peer. For 127.1.2.3 and four
equal peers: 89 -> 3913 -> 3200 -> 4155, and 4155 mod 4 = 3.

One round of the byte loop is affine in ``h``: ``h' = (h * 113**L + c) mod
6271`` with ``c`` the bytes' contribution (L = 3 or 16). Keys carry ``c``:
an IPv4 key is the address (the kernel computes ``c``), an IPv6 one is
``IPV6_TAG | c``. Source: ``ngx_http_upstream_get_ip_hash_peer``, nginx 1.22.1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import addresses
from ..._jit import kernel
from ..._table import account_at, item, listed
from .._arith import fast_mod
from ..registry import register
from ._base import NginxScheduler
from ._peers import (
    DIRECT,
    INV_TOTAL,
    NPRIM,
    TOTAL_W,
    is_single,
    now_at,
    peer_rows,
    reload,
    rr_peer,
    seconds,
    single_peer,
    touch,
    usable,
    walk,
)

#: Marks an IPv6 key: the low 16 bits hold its bytes' contribution.
IPV6_TAG = 1 << 40
A4 = 113 ** 3 % 6271
A16 = pow(113, 16, 6271)


@kernel(inline="always")
def ip_hash_peer(p, state, n, key, now, inv):
    """One ``ip_hash`` decision: the slot or -1."""
    if is_single(state):
        return single_peer(p, n)
    total = state[TOTAL_W]
    nprim = state[NPRIM]
    direct = state[DIRECT]
    if nprim > 0 and total > 0:
        if key >= IPV6_TAG:
            a = A16
            c = key & 0xFFFF
        else:
            a = A4
            c = (((key >> 24) * 113 + ((key >> 16) & 0xFF)) * 113 + ((key >> 8) & 0xFF)) % 6271
        h = 89
        for _ in range(21):
            h = (h * a + c) % 6271
            s = walk(p, nprim, fast_mod(h, total, inv), total, inv, direct)
            if usable(p, s, now):
                touch(p, s, now)
                return s
    return rr_peer(p, state, n, now)


@kernel(signature="schedule", refcount=False)
def nginx_ip_hash_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``keys``: IPv4 addresses, or ``IPV6_TAG | contribution``."""
    p = peer_rows(table, state)
    n = listed(table)
    inv = fstate[INV_TOTAL]
    now0 = seconds(times[0])
    backend = -1
    for i in range(first, last):
        s = ip_hash_peer(p, state, n, item(keys, i), now_at(times, i, now0), inv)
        backend = account_at(table, s, mode)
        out[i] = backend
    return backend


@kernel(signature="changed")
def nginx_ip_hash_changed(table, state, fstate, event, where):
    """Every edit is a reload."""
    reload(table, state, fstate)


def ipv6_key(value: int) -> int:
    """Return the kernel key of an IPv6 address given as an int.

    That is ``IPV6_TAG`` | the contribution of its 16 bytes, mod 6271.
    """
    c = 0
    for byte in value.to_bytes(16, "big"):
        c = (c * 113 + byte) % 6271
    return IPV6_TAG | c


class AddressKeyed(NginxScheduler):
    """nginx balancers keyed by the client address: IPv4 as it is, IPv6 by its 16 bytes."""

    keyed = True

    def _key(self, key: Any) -> int:
        if key is None:
            raise TypeError(f"{type(self).__name__}.pick() needs key= (the client address)")
        if type(key) is int and 0 <= key < 4294967296:
            return key
        addr = addresses.parse(key, "key")
        return int(addr) if addr.version == 4 else ipv6_key(int(addr))

    def _keys(self, keys: Any) -> np.ndarray:
        arr = np.asarray(keys) if not isinstance(keys, (str, bytes)) else None
        words = None if arr is None else addresses.ipv6_words(arr)
        if words is not None:
            return np.array([ipv6_key(addresses.ipv6_value(row)) for row in words.tolist()], dtype=np.int64)
        if arr is not None and arr.ndim == 1 and arr.dtype.kind in "OU" and arr.size:
            return np.array([self._key(k) for k in arr.tolist()], dtype=np.int64)
        return addresses.key_array(keys, reuse=True)  # one kernel call: see Scheduler._keys


@register
class NginxIPHash(AddressKeyed):
    """nginx ``ip_hash``: the first three octets of the client address, 89/113/6271, 21 tries.

    Parameters
    ----------
    weights : sequence of int
        Peer weights in config order; see :class:`~lbalgo.schedulers.nginx._base.NginxScheduler`
        for ``down``, ``max_fails``, ``fail_timeout`` and ``max_conns``
        (nginx accepts no ``backup`` here).
    """

    name = "nginx-ip-hash"
    summary = "client a.b.c (IPv4) or 16 bytes (IPv6), h = (h*113 + byte) mod 6271, weight walk, rehash"
    source = "nginx 1.22 ngx_http_upstream_ip_hash_module.c"

    _schedule = nginx_ip_hash_schedule
    _changed = nginx_ip_hash_changed



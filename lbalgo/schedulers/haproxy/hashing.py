"""haproxy-source, haproxy-uri, haproxy-hdr: HAProxy's hash balancing (``src/backend.c``).

::

    pick(key):
        tot_weight == 0: nothing
        if one server is in use (tot_used == 1): h = 0, no hashing
        else:
            source: h = the client IPv4 address as an integer (127.1.2.3 ->
                    0x7F010203), IPv6: the XOR of its four 32-bit words; no
                    hash function
            uri:    h = function(the request target up to the first '?'
                    (unless whole), at most len bytes, up to the depth-th '/')
            hdr:    h = function(the header value); a missing or empty
                    header: round robin (below)
            if avalanche: h = full_hash(h)
        server = map[h mod tot_weight]   (hash_type="map-based", the default)
               = the nearest ring point  (hash_type="consistent")
        none: round robin over the map (static-rr's walk) or the ring

Defaults follow ``hash-type``: none given is map-based sdbm without
avalanche; a bare ``consistent`` is sdbm *with* avalanche; naming a
function turns the implicit avalanche off (``avalanche=True`` brings it
back). A hashed server that is at maxconn still gets the request (HAProxy
queues it there). String keys are hashed from their bytes as HAProxy does;
an integer key below 2**32 stands for a client IPv4 address and, for uri
and hdr, is hashed as its text (a header such as ``X-Forwarded-For``;
sdbm and djb2 hash that text an octet at a time from tables, see
:mod:`._hashes`).
Sources: ``get_server_sh``, ``get_server_uh``, ``get_server_hh``,
``assign_server``, ``gen_hash``, ``cfg_parse_listen`` (``hash-type``),
HAProxy 2.6.12.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ... import strings
from ..._jit import kernel
from ..._table import account, item
from .. import _strkeys
from .._arith import fast_mod
from .._crc32 import ipv4_text
from ..registry import register
from ._base import HAProxyScheduler
from ._hashes import (
    DJB2,
    EMPTY,
    FUNCTIONS,
    M32,
    SDBM,
    STRING_TAG,
    full_hash,
    hash_bytes,
    hash_strings,
    ipv4_poly_hash,
)
from ._servers import ALGO, OVERFLOW, REGION_AT, REGION_LEN, TOT_USED, TOT_WEIGHT
from .chash import chash_changed_kernel, chash_lookup, chash_next, fill_ring_header, relayout_ring, ring_need
from .map import MapBased, map_changed_kernel, map_rr

# header fields (after the ring's / the map's)
TEXT = ALGO + 8  # 16 values: the text of an IPv4 key
HASH_TYPE = ALGO + 24  # 0 map-based, 1 consistent
FUNCTION = ALGO + 25
AVALANCHE = ALGO + 26
KIND = ALGO + 27
URI_LEN = ALGO + 28  # "len" (0: none)
SOURCE, URI, HDR = 0, 1, 2
HASH_TYPES = ("map-based", "consistent")


@kernel(inline="always")
def text_hash(state, key, function, cut):
    """``gen_hash`` of the text of the IPv4 key ``key``, cut to ``cut`` bytes (0: whole; uri's ``len``)."""
    length = ipv4_text(key, state, TEXT)
    if cut and cut < length:
        length = cut
    return hash_bytes(function, state, TEXT, TEXT + length)


@kernel(signature="schedule", refcount=False)
def haproxy_hash_schedule(table, state, fstate, keys, times, out, first, last, mode):
    """``get_server_sh`` / ``_uh`` / ``_hh``, then ``assign_server``'s round-robin fallback.

    ``keys``: addresses (source), ``STRING_TAG | hash`` (hashed strings), ``EMPTY``, IPv4 addresses.
    """
    tot = state[TOT_WEIGHT]
    used = state[TOT_USED]
    consistent = state[HASH_TYPE]
    avalanche = state[AVALANCHE]
    raw = state[KIND] == SOURCE
    inv = 1.0 / tot if tot else 0.0
    base = state[REGION_AT]
    mapped = tot > 0 and not consistent and not state[OVERFLOW]
    function = state[FUNCTION]
    cut = state[URI_LEN]
    # sdbm, djb2: the text of an IPv4 key hashed an octet at a time, none written (ipv4_poly_hash),
    # unless uri's len cuts it (the longest text, 255.255.255.255, has 15 bytes)
    octets = (function == SDBM or function == DJB2) and (cut == 0 or cut >= 15)
    backend = -1
    for i in range(first, last):
        key = item(keys, i)
        b = -1
        if tot:
            if used == 1 or key != EMPTY:
                if used == 1:
                    h = 0  # "we won't hash if there's only one server left"
                else:
                    if raw or key >= STRING_TAG:
                        h = key & M32
                    elif octets:
                        h = ipv4_poly_hash(function, key)
                    else:
                        h = text_hash(state, key, function, cut)
                    if avalanche:
                        h = full_hash(h)
                if consistent:
                    b = chash_lookup(state, h)
                elif mapped:
                    b = state[base + fast_mod(h, tot, inv)]
            if b < 0:
                b = chash_next(table, state) if consistent else map_rr(table, state)
        backend = account(table, b, mode)
        out[i] = backend
    return backend


@kernel(signature="changed")
def haproxy_hash_changed(table, state, fstate, event, where):
    """Apply the ring's or the map's runtime edits (see :mod:`.chash`, :mod:`.map`)."""
    if state[HASH_TYPE]:
        chash_changed_kernel(table, state, event, where)
    else:
        map_changed_kernel(table, state, event, where)


@kernel
def hash_uris(function, data, offsets, out, whole, length, depth):
    """``get_server_uh``'s cut and hash of each request target: ``STRING_TAG | gen_hash(cut)``.

    The cut stops at '?' (unless ``whole``), after ``length`` bytes (0: no
    limit) and at the ``depth``-th '/' counted from 1 (``depth + 1`` is the
    slash that ends it; 0: no limit).
    """
    for i in range(len(out)):
        start = offsets[i]
        n = offsets[i + 1] - start
        if length and length < n:
            n = length
        end = start
        slashes = 0
        while n > 0:
            c = data[end]
            if c == 47:  # '/'
                slashes += 1
                if slashes == depth:
                    break
            elif c == 63 and not whole:  # '?'
                break
            end += 1
            n -= 1
        out[i] = STRING_TAG | hash_bytes(function, data, start, end)


def _path_only(target: Any) -> Any:
    """``http_parse_path``: the path of an absolute-form target (scheme and authority dropped)."""
    raw = target.encode("utf-8", "surrogateescape") if isinstance(target, str) else bytes(target)
    if raw.startswith(b"/"):
        return raw
    scheme = raw.find(b"://")
    if scheme < 0:
        return raw
    slash = raw.find(b"/", scheme + 3)
    return raw[slash:] if slash >= 0 else b""


class HAProxyHash(HAProxyScheduler):
    """Hash balancing with HAProxy's ``hash-type``: map-based or consistent, a function, avalanche.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256 in config order; see
        :class:`~lbalgo.schedulers.haproxy._base.HAProxyScheduler` for
        ``ids``, ``backup``, ``allbackups`` and ``maxconn``.
    hash_type : {"map-based", "consistent"}
        Default "map-based".
    hash_function : {"sdbm", "djb2", "wt6", "crc32"}, optional
        Default sdbm. No effect for ``source`` (HAProxy hashes no string there).
    avalanche : bool, optional
        Apply ``full_hash`` to the hash. Default: only for a bare
        ``hash-type consistent`` (no function named).
    """

    keyed = True
    _kind = SOURCE

    _schedule = haproxy_hash_schedule
    _changed = haproxy_hash_changed

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *, hash_type: str | None = None,
                 hash_function: str | None = None, avalanche: bool | None = None, **options: Any) -> None:
        hash_type = "map-based" if hash_type is None else hash_type
        if hash_type not in HASH_TYPES:
            raise ValueError(f"hash_type must be one of {HASH_TYPES}, got {hash_type!r}")
        if hash_function is not None and hash_function not in FUNCTIONS:
            if hash_function == "none":
                raise ValueError("hash_function='none' does not exist in HAProxy 2.6 (it came with 2.8); "
                                 "use sdbm, djb2, wt6 or crc32")
            raise ValueError(f"hash_function must be one of {tuple(FUNCTIONS)}, got {hash_function!r}")
        if avalanche is not None and not isinstance(avalanche, (bool, np.bool_)):
            raise TypeError(f"avalanche must be True, False or None, got {avalanche!r}")
        self.hash_type = hash_type
        self.hash_function = hash_function or "sdbm"
        self.avalanche = bool(avalanche) if avalanche is not None else \
            (hash_type == "consistent" and hash_function is None)
        self.map_based = hash_type == "map-based"
        super().__init__(weights, **options)

    def _fill_algo(self, state: np.ndarray) -> None:
        state[HASH_TYPE] = int(not self.map_based)
        state[FUNCTION] = FUNCTIONS[self.hash_function]
        state[AVALANCHE] = int(self.avalanche)
        state[KIND] = self._kind
        if not self.map_based:
            fill_ring_header(state)

    def _region_need(self) -> int:
        if self.map_based:
            return MapBased._region_need(self)  # type: ignore[arg-type]
        pool = getattr(self, "pool", None)
        return 0 if pool is None else 2 * ring_need(pool)

    def _headroom(self) -> int:
        if self.map_based:
            return MapBased._headroom(self)  # type: ignore[arg-type]
        pool = self.pool
        top = int(np.minimum(pool.weights[pool.list_order], 256).max(initial=1))
        return 2 * 16 * top * (pool.capacity - len(pool))

    def _after_resize(self, old: np.ndarray, new: np.ndarray) -> None:
        if not self.map_based and new[REGION_LEN] != old[REGION_LEN]:
            relayout_ring(old, new)

    def __repr__(self) -> str:
        w = self.pool.weights[self.pool.list_order].tolist()
        return (f"{type(self).__name__}(weights={w}, hash_type={self.hash_type!r}, "
                f"hash_function={self.hash_function!r}, avalanche={self.avalanche})")


@register
class HAProxySource(HAProxyHash):
    """HAProxy ``balance source``: the client address as the hash (IPv4 as an integer).

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256; see :class:`HAProxyHash` for ``hash_type``,
        ``hash_function`` (no effect here), ``avalanche`` and the server options.
    """

    name = "haproxy-source"
    summary = "client IPv4 as an integer (no string hash), optional avalanche; map or nearest ring point"
    source = "HAProxy 2.6 backend.c get_server_sh"
    _kind = SOURCE


class StringHash(HAProxyHash):
    """String keys hashed as HAProxy hashes them."""

    def _key(self, key: Any) -> int:
        if key is None:
            raise TypeError(f"{type(self).__name__}.pick() needs key= (a string, or a client IPv4 address)")
        if type(key) is int and 0 <= key < 4294967296:
            return key
        if isinstance(key, (str, bytes, bytearray)):
            return int(self._string_keys([key])[0])
        return super()._key(key)

    def _keys(self, keys: Any) -> np.ndarray:
        if strings.is_string_batch(keys):
            return self._string_keys(keys)
        return super()._keys(keys)

    def _string_keys(self, values: Any) -> np.ndarray:
        data, offsets = _strkeys.encode(values)
        out = np.empty(len(offsets) - 1, dtype=np.int64)
        if len(out):
            hash_strings(FUNCTIONS[self.hash_function], data, offsets, out)
        return out


@register
class HAProxyURI(StringHash):
    """HAProxy ``balance uri``: the request target, cut at '?' (unless ``whole``), hashed.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256; see :class:`HAProxyHash` for ``hash_type``,
        ``hash_function``, ``avalanche`` and the server options.
    whole : bool
        Hash the query string too.
    len : int
        Hash at most this many bytes (0: all).
    depth : int
        Hash up to this many directory levels (0: all).
    path_only : bool
        Drop the scheme and authority of absolute-form targets first.
    """

    name = "haproxy-uri"
    summary = "request target up to '?', hashed (sdbm/djb2/wt6/crc32, avalanche); map or nearest ring point"
    source = "HAProxy 2.6 backend.c get_server_uh"
    _kind = URI

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *, whole: bool = False,
                 len: int = 0, depth: int = 0, path_only: bool = False, **options: Any) -> None:
        for flag, what in ((whole, "whole"), (path_only, "path_only")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{what} must be True or False, got {flag!r}")
        for value, what in ((len, "len"), (depth, "depth")):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
        self.whole, self.path_only = bool(whole), bool(path_only)
        self.uri_len, self.depth = int(len), int(depth)
        super().__init__(weights, **options)

    def _fill_algo(self, state: np.ndarray) -> None:
        super()._fill_algo(state)
        state[URI_LEN] = self.uri_len

    def _string_keys(self, values: Any) -> np.ndarray:
        if isinstance(values, (str, bytes, bytearray)):
            values = [values]
        if self.path_only:
            values = [_path_only(v) if isinstance(v, (str, bytes, bytearray)) else v for v in values]
        data, offsets = _strkeys.encode(values)
        out = np.empty(len(offsets) - 1, dtype=np.int64)
        if out.size:
            hash_uris(FUNCTIONS[self.hash_function], data, offsets, out, self.whole, self.uri_len,
                      self.depth + 1 if self.depth else 0)
        return out


@register
class HAProxyHdr(StringHash):
    """HAProxy ``balance hdr(<name>)``: a header value, hashed; missing or empty: round robin.

    Parameters
    ----------
    weights : sequence of int
        Server weights 0..256; see :class:`HAProxyHash` for ``hash_type``,
        ``hash_function``, ``avalanche`` and the server options.
    header : str
        The header's name (documentation only: keys are its values; pass
        ``""`` for a request without it).
    """

    name = "haproxy-hdr"
    summary = "a header value hashed (sdbm/djb2/wt6/crc32, avalanche); missing or empty: round robin"
    source = "HAProxy 2.6 backend.c get_server_hh"
    _kind = HDR

    def __init__(self, weights: Sequence[int] | np.ndarray | None = None, *, header: str = "X-Forwarded-For",
                 **options: Any) -> None:
        if not isinstance(header, str) or not header:
            raise TypeError(f"header must be a header name, got {header!r}")
        self.header = header
        super().__init__(weights, **options)


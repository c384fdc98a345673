"""Client, destination and backend addresses, and the keys the kernels receive.

Keys and backend addresses may be given as an ``int`` (an IPv4 address when
below 2**32, else IPv6), an IPv4/IPv6 string or an ``ipaddress`` object.
Batches of IPv4 keys are NumPy ``uint32`` (or any integer) arrays holding the
address in host order (``int(ipaddress.IPv4Address(...))``); batches of IPv6
keys are ``(n, 4)`` integer arrays of 32-bit words, most significant first.

This module is the one place that parses addresses and turns them into kernel
keys:

* the 32-bit value IPVS hashes (:func:`fold32`, :func:`key_array`): IPv4 as
  it is, IPv6 folded to the XOR of its four words (:func:`fold_v6`);
* a folded address with the client port, packed as ``(port << 32) | fold``
  in one int64 (:func:`endpoint_key`, :func:`endpoint_keys`), for schedulers
  that can hash the port (sh, dh, mh);
* backend endpoints, ``"ip:port"`` (:func:`parse_endpoint`,
  :func:`endpoint_string`).

Caches keyed by the full address give each IPv6 address an id of its own
instead of its fold (``lbalgo/schedulers/_identity_keys.py``); they use the
pieces below.
"""

from __future__ import annotations

import ipaddress
import numbers
import threading
from typing import Any, Union

import numpy as np

from ._validate import key_batch
from .errors import InvalidArgument, InvalidArgumentType, short

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

M32 = 0xFFFFFFFF
#: Largest packed key: port 65535, address 2**32 - 1.
MAX_PACKED = (0xFFFF << 32) | M32
#: Largest batch whose converted keys go into the per-thread buffer (:func:`int64_keys`); 16 MiB.
MAX_REUSED_KEYS = 1 << 21
_buffers = threading.local()


# -- one address -------------------------------------------------------------------------
def parse(value: Any, what: str = "address") -> Address:
    """Return ``value`` as an ``ipaddress`` object, or raise ``ValueError``/``TypeError``."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentType(f"{what} must be an IP address, got the bool {short(value)}")
    if isinstance(value, numbers.Integral):
        v = int(value)
        if v < 0 or v >= 2**128:
            raise InvalidArgument(f"{what} {v} is not an IPv4 or IPv6 address (out of range)")
        return ipaddress.IPv4Address(v) if v < 2**32 else ipaddress.IPv6Address(v)
    if isinstance(value, str):
        try:
            return ipaddress.ip_address(value.strip())
        except ValueError:
            raise InvalidArgument(f"{what} {short(value)} is not a valid IPv4 or IPv6 address") from None
    raise InvalidArgumentType(f"{what} must be an int, a string or an ipaddress object, got "
                              f"{type(value).__name__}")


def fold_v6(value: int) -> int:
    """Return the 32-bit XOR of the four words of the 128-bit address ``value``.

    That is what IPVS hashes for an IPv6 address (``ip_vs_sh_hashkey``,
    ``ip_vs_dh_hashkey``, ``ip_vs_lblc_hashkey``).
    """
    return (value >> 96 ^ value >> 64 ^ value >> 32 ^ value) & M32


def fold32(addr: Address) -> int:
    """Return the 32-bit value IPVS hashes: IPv4 in host order, IPv6 folded (:func:`fold_v6`)."""
    v = int(addr)
    if addr.version == 4:
        return v
    return fold_v6(v)


# -- endpoints ---------------------------------------------------------------------------
def parse_endpoint(value: Any, what: str = "address") -> tuple[Address, int]:
    """Parse ``"ip"``, ``"ip:port"``, ``"[v6]:port"``, an int or an ipaddress object; return (address, port).

    Without a port the port is 0.
    """
    if isinstance(value, str):
        text = value.strip()
        port_text = None
        if text.startswith("["):
            host, sep, rest = text[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise InvalidArgument(f"{what} {short(value)} is not a valid [IPv6]:port endpoint")
            text, port_text = host, (rest[1:] if rest else None)
        elif text.count(":") == 1:
            text, port_text = text.split(":")
        port = 0
        if port_text is not None:
            if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
                raise InvalidArgument(f"{what} {short(value)} has an invalid port {short(port_text)}")
            port = int(port_text)
        return parse(text, what), port
    return parse(value, what), 0


def endpoint_string(addr: Address | None, port: int) -> str:
    """Return kube-proxy's ``"ip:port"`` form (IPv6 in brackets), which it sorts endpoints by.

    An endpoint without an address gives ``""``.
    """
    if addr is None:
        return ""
    host = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"{host}:{port}"


# -- batches of addresses ------------------------------------------------------------------
def ipv6_words(arr: np.ndarray) -> np.ndarray | None:
    """Return ``arr`` as int64 if it is an ``(n, 4)`` integer array of IPv6 words, else None.

    Raises when a word is outside 0..2**32-1.
    """
    if not (arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iu"):
        return None
    if arr.size and (arr.min() < 0 or arr.max() > M32):
        raise InvalidArgument("IPv6 keys as (n, 4) words must hold values in 0..2**32-1")
    return arr.astype(np.int64)


def ipv6_value(words: Any) -> int:
    """Return the 128-bit address of four 32-bit words, most significant first."""
    a, b, c, d = (int(w) for w in words)
    return a << 96 | b << 64 | c << 32 | d


def key_array(keys: Any, *, reuse: bool = False) -> np.ndarray:
    """Return a batch of keys as the contiguous int64 array of 32-bit values IPVS hashes.

    Accepted layouts: a 1-D integer array of IPv4 addresses (host order, e.g.
    ``uint32``); a 2-D ``(n, 4)`` integer array of IPv6 addresses as four
    32-bit words, most significant first (folded by XOR, as IPVS does); or a
    sequence of address strings / ``ipaddress`` objects. ``reuse=True``: an
    integer array may be converted into the per-thread buffer of
    :func:`int64_keys` (keys needed only until the next conversion).
    """
    arr = np.asarray(key_batch(keys))
    words = ipv6_words(arr)
    if words is not None:
        return np.ascontiguousarray(words[:, 0] ^ words[:, 1] ^ words[:, 2] ^ words[:, 3])
    if arr.ndim != 1:
        raise InvalidArgument("keys must be a 1-D array (IPv4) or an (n, 4) array (IPv6 words), got shape "
                              f"{arr.shape}")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind in "OU" and arr.size:
            return np.array([fold32(parse(k, f"keys[{i}]")) for i, k in enumerate(arr.tolist())],
                            dtype=np.int64)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        raise InvalidArgumentType("keys must be integers (IPv4 addresses) or address strings, got dtype "
                                  f"{arr.dtype}")
    i = _first_out_of_range(arr, M32)
    if i >= 0:
        raise InvalidArgument(f"keys[{i}] = {arr[i]} is not an IPv4 address (0..2**32-1)")
    return int64_keys(arr, reuse=reuse)


def _first_out_of_range(arr: np.ndarray, top: int) -> int:
    """Return the index of the first integer key outside ``0 .. top``, or -1."""
    if not arr.size or (arr.dtype.kind == "u" and arr.dtype.itemsize <= 4):
        return -1  # uint8/16/32 keys are in range by their type: no pass over the batch
    if arr.min() >= 0 and arr.max() <= top:
        return -1
    return int(np.flatnonzero((arr < 0) | (arr > top))[0])


def int64_keys(arr: np.ndarray, *, reuse: bool = False) -> np.ndarray:
    """Return the (checked) integer keys ``arr`` as the contiguous int64 array kernels take.

    ``arr`` itself when it already is one; otherwise a converted copy. With
    ``reuse=True`` the copy is written into a buffer kept per thread (batches
    up to :data:`MAX_REUSED_KEYS`) that the next ``reuse=True`` conversion on
    the thread overwrites: for keys that live only during one kernel call
    (``pick_many``). Why: a fresh copy per batch is memory the C library gives
    back to the system when the batch ends, and takes back page by page on the
    next batch; with the output array also fresh, that cost about 5 ns per
    decision at 200,000 keys, more than the decision itself.
    """
    if arr.dtype == np.int64 and arr.flags.c_contiguous:
        return arr
    n = arr.size
    if not reuse or n > MAX_REUSED_KEYS or arr.ndim != 1:
        return np.ascontiguousarray(arr, dtype=np.int64)
    buffer = getattr(_buffers, "keys", None)
    if buffer is None or len(buffer) < n:
        buffer = _buffers.keys = np.empty(n, dtype=np.int64)
    out = buffer[:n]
    np.copyto(out, arr, casting="unsafe")  # in range: checked by the caller
    return out


# -- keys with a client port ----------------------------------------------------------------
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
        addr = fold32(parse(key[0], what))
        return port_number(key[1], f"{what} {key!r}") << 32 | addr
    if isinstance(key, str):
        text = key.strip()
        if text.startswith("[") or text.count(":") == 1:
            addr, port = parse_endpoint(text, what)
            return port << 32 | fold32(addr)
    return fold32(parse(key, what))


def endpoint_keys(keys: Any, ports: Any = None) -> np.ndarray:
    """Return a batch of keys as packed int64 keys (see :func:`endpoint_key`).

    ``keys`` is a 1-D integer array of IPv4 addresses (or of keys already
    packed as ``(port << 32) | addr``), an ``(n, 4)`` integer array of IPv6
    words, or a sequence of anything :func:`endpoint_key` accepts.
    ``ports``, if given, holds one client port per key and replaces the
    port part of every key.
    """
    key_batch(keys)
    if not isinstance(keys, np.ndarray) and not isinstance(keys, (str, bytes)):
        seq = list(keys)
        keys = seq
        # A list of IPv4 integers takes the array path; other ints (IPv6) go one by one.
        if seq and all(type(k) is int for k in seq) and 0 <= min(seq) and max(seq) <= M32:
            keys = np.asarray(seq, dtype=np.int64)
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu" and keys.ndim == 1:
        arr = keys
        i = _first_out_of_range(arr, MAX_PACKED)
        if i >= 0:
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

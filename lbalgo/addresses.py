"""Client, destination and backend addresses.

Keys and backend addresses may be given as an ``int`` (an IPv4 address when
below 2**32, else IPv6), an IPv4/IPv6 string or an ``ipaddress`` object.
Batches of IPv4 keys are NumPy ``uint32`` (or any integer) arrays holding the
address in host order (``int(ipaddress.IPv4Address(...))``).
"""

from __future__ import annotations

import ipaddress
import numbers
from typing import Any, Union

import numpy as np

from .errors import InvalidArgument, InvalidArgumentType, short

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


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


def fold32(addr: Address) -> int:
    """The 32-bit value IPVS hashes: IPv4 in host order, IPv6 as the XOR of its words.

    (``ip_vs_sh_hashkey`` / ``ip_vs_dh_hashkey``; ``spec/ipvs.md`` §10.)
    """
    v = int(addr)
    if addr.version == 4:
        return v
    return (v >> 96 ^ v >> 64 ^ v >> 32 ^ v) & 0xFFFFFFFF


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
    """kube-proxy's ``"ip:port"`` form (IPv6 in brackets), which it sorts endpoints by."""
    if addr is None:
        return ""
    host = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"{host}:{port}"


def key_array(keys: Any) -> np.ndarray:
    """Return a batch of keys as the contiguous int64 array of 32-bit values IPVS hashes.

    Accepted layouts: a 1-D integer array of IPv4 addresses (host order, e.g.
    ``uint32``); a 2-D ``(n, 4)`` integer array of IPv6 addresses as four
    32-bit words, most significant first (folded by XOR, as IPVS does); or a
    sequence of address strings / ``ipaddress`` objects.
    """
    from ._validate import key_batch

    arr = np.asarray(key_batch(keys))
    if arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
            raise InvalidArgument("IPv6 keys as (n, 4) words must hold values in 0..2**32-1")
        words = arr.astype(np.int64)
        return np.ascontiguousarray(words[:, 0] ^ words[:, 1] ^ words[:, 2] ^ words[:, 3])
    if arr.ndim != 1:
        raise InvalidArgument("keys must be a 1-D array (IPv4) or an (n, 4) array (IPv6 words), got shape "
                              f"{arr.shape}")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind in "OU" and arr.size:
            return np.array([fold32(parse(k, f"keys[{i}]")) for i, k in enumerate(arr.tolist())], dtype=np.int64)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        raise InvalidArgumentType("keys must be integers (IPv4 addresses) or address strings, got dtype "
                                  f"{arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        i = int(np.flatnonzero((arr < 0) | (arr > 0xFFFFFFFF))[0])
        raise InvalidArgument(f"keys[{i}] = {arr[i]} is not an IPv4 address (0..2**32-1)")
    return np.ascontiguousarray(arr, dtype=np.int64)

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

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def parse(value: Any, what: str = "address") -> Address:
    """Return ``value`` as an ``ipaddress`` object, or raise ``ValueError``/``TypeError``."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an IP address, got the bool {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
        if v < 0 or v >= 2**128:
            raise ValueError(f"{what} {v} is not an IPv4 or IPv6 address (out of range)")
        return ipaddress.IPv4Address(v) if v < 2**32 else ipaddress.IPv6Address(v)
    if isinstance(value, str):
        try:
            return ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError(f"{what} {value!r} is not a valid IPv4 or IPv6 address") from None
    raise TypeError(f"{what} must be an int, a string or an ipaddress object, got {type(value).__name__}")


def fold32(addr: Address) -> int:
    """The 32-bit value IPVS hashes: IPv4 in host order, IPv6 as the XOR of its words.

    (``ip_vs_sh_hashkey`` / ``ip_vs_dh_hashkey``; ``spec/ipvs.md`` §10.)
    """
    v = int(addr)
    if addr.version == 4:
        return v
    return (v >> 96 ^ v >> 64 ^ v >> 32 ^ v) & 0xFFFFFFFF

"""Kernel keys that keep every address distinct, IPv6 included.

Hashing schedulers only need the 32-bit fold IPVS hashes
(:func:`lbalgo.addresses.key_array`),
but a cache keyed by address — LBLC's destination table, ClientIP affinity's
client table — must not merge two IPv6 addresses that fold alike. Keys are
therefore an IPv4 address as is (``< 2**32``), or ``2**32 + i`` for the
``i``-th distinct IPv6 address seen, whose fold the class stores in a per-id
array its kernels read.
"""

from __future__ import annotations

import ipaddress
import numbers
from typing import Any

import numpy as np

from .. import addresses
from .._validate import key_batch
from ..addresses import fold_v6, ipv6_value, ipv6_words
from ..errors import InvalidArgument, InvalidArgumentType

V6_BASE = 1 << 32  # keys >= V6_BASE are IPv6 ids


class AddressIdentityKeys:
    """Mixin for :class:`~lbalgo.schedulers.base.Scheduler` subclasses keyed by full address.

    Subclasses call :meth:`_init_identity_keys` in ``__init__``, set
    ``_key_role`` (for error messages) and implement :meth:`_store_v6_fold`.
    """

    _key_role = "an address"
    _v6_ids: dict[int, int]
    _v6_addrs: list[int]

    def _init_identity_keys(self) -> None:
        self._v6_ids = {}
        self._v6_addrs = []

    def _store_v6_fold(self, index: int, fold: int) -> None:
        """Record the 32-bit fold of IPv6 id ``index`` where the kernels read it."""
        raise NotImplementedError(type(self).__name__)

    def _v6_id(self, value: int) -> int:
        """Return the kernel key of the IPv6 address ``value``, handing out a new id at first sight."""
        i = self._v6_ids.get(value)
        if i is None:
            i = len(self._v6_addrs)
            self._v6_ids[value] = i
            self._v6_addrs.append(value)
            self._store_v6_fold(i, fold_v6(value))
        return V6_BASE + i

    def _key(self, key: Any) -> int:
        """Return the kernel key of one address: IPv4 as it is, IPv6 as its own id >= 2**32."""
        if type(key) is int and 0 <= key < V6_BASE:
            return key
        if key is None:
            raise InvalidArgumentType(f"{type(self).__name__}.pick() needs key= ({self._key_role})")
        addr = addresses.parse(key, "key")
        return int(addr) if addr.version == 4 else self._v6_id(int(addr))

    def _keys(self, keys: Any) -> np.ndarray:
        """Return a batch of addresses as kernel keys: IPv4 integers, (n, 4) IPv6 words, or strings."""
        arr = np.asarray(key_batch(keys))
        if arr.dtype.kind == "U" and not isinstance(keys, np.ndarray):
            # NumPy turns a list mixing integers and strings into strings ('167772161'): keep the items.
            arr = np.empty(len(keys), dtype=object)
            arr[:] = list(keys)
        words = ipv6_words(arr)
        if words is not None:
            rows, inverse = np.unique(words, axis=0, return_inverse=True)
            ids = np.array([self._v6_id(ipv6_value(row)) for row in rows.tolist()], dtype=np.int64)
            return np.ascontiguousarray(ids[inverse.reshape(-1)])
        if arr.ndim != 1:
            raise InvalidArgument("keys must be a 1-D array (IPv4) or an (n, 4) array (IPv6 words), "
                                  f"got shape {arr.shape}")
        if arr.dtype.kind in "iu":
            if arr.size and arr.min() < 0:
                i = int(np.flatnonzero(arr < 0)[0])
                raise InvalidArgument(f"keys[{i}] = {arr[i]} is not an IP address")
            out = np.ascontiguousarray(arr, dtype=np.int64)
            if arr.size and int(arr.max()) >= V6_BASE:  # integers beyond IPv4 are IPv6 addresses
                out = out.copy()
                for i in np.flatnonzero(arr >= V6_BASE).tolist():
                    out[i] = self._v6_id(int(arr[i]))
            return out
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind in "OU":
            out = np.empty(len(arr), dtype=np.int64)
            for i, k in enumerate(arr.tolist()):
                if k is None:
                    raise InvalidArgumentType(f"keys[{i}] is None")
                is_int = isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_))
                out[i] = self._key(int(k) if is_int else k)
            return out
        raise InvalidArgumentType("keys must be integers (IPv4 addresses) or address strings, got dtype "
                                  f"{arr.dtype}")

    def _address(self, key: int) -> addresses.Address:
        """Return the address a kernel key stands for."""
        if key < V6_BASE:
            return ipaddress.IPv4Address(int(key))
        return ipaddress.IPv6Address(self._v6_addrs[key - V6_BASE])

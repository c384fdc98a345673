"""Client keys of :class:`ClientIPAffinity`: IPv4 as is, IPv6 with its full identity."""

from __future__ import annotations

import ipaddress
import numbers
from typing import Any

import numpy as np

from ... import addresses
from . import _kernels as K


class ClientKeys:
    """Kernel keys: an IPv4 address, or ``2**32 + i`` for the i-th distinct IPv6 client.

    ``v6fold[i]`` (the last affinity array) holds the 32-bit fold of IPv6
    client ``i``, which is what the inner scheduler receives.
    """

    _aff: tuple
    _v6_ids: dict
    _v6_addrs: list

    def _v6_id(self, value: int) -> int:
        i = self._v6_ids.get(value)
        if i is None:
            i = len(self._v6_addrs)
            self._v6_ids[value] = i
            self._v6_addrs.append(value)
            a = self._aff
            if i >= len(a[7]):
                grown = np.zeros(2 * len(a[7]), dtype=np.int64)
                grown[: len(a[7])] = a[7]
                self._aff = a[:7] + (grown,)
            self._aff[7][i] = (value >> 96 ^ value >> 64 ^ value >> 32 ^ value) & 0xFFFFFFFF
        return K.V6_BASE + i

    def _key(self, key: Any) -> int:
        """IPv4 clients as their address; each distinct IPv6 client gets an id >= 2**32."""
        if type(key) is int and 0 <= key < K.V6_BASE:
            return key
        if key is None:
            raise TypeError("ClientIPAffinity.pick() needs key= (the client address)")
        addr = addresses.parse(key, "key")
        return int(addr) if addr.version == 4 else self._v6_id(int(addr))

    def _keys(self, keys: Any) -> np.ndarray:
        arr = np.asarray(keys)
        if arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "iu":
            if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
                raise ValueError("IPv6 keys as (n, 4) words must hold values in 0..2**32-1")
            rows, inverse = np.unique(arr.astype(np.uint64), axis=0, return_inverse=True)
            ids = np.array([self._v6_id(int(a) << 96 | int(b) << 64 | int(c) << 32 | int(d))
                            for a, b, c, d in rows.tolist()], dtype=np.int64)
            return np.ascontiguousarray(ids[inverse.reshape(-1)])
        if arr.ndim != 1:
            raise ValueError(f"keys must be a 1-D array (IPv4) or an (n, 4) array (IPv6 words), got shape {arr.shape}")
        if arr.dtype.kind in "iu":
            if arr.size and arr.min() < 0:
                i = int(np.flatnonzero(arr < 0)[0])
                raise ValueError(f"keys[{i}] = {arr[i]} is not an IP address")
            out = np.ascontiguousarray(arr, dtype=np.int64)
            if arr.size and int(arr.max()) >= K.V6_BASE:  # integers beyond IPv4 are IPv6 addresses
                out = out.copy()
                for i in np.flatnonzero(arr >= K.V6_BASE).tolist():
                    out[i] = self._v6_id(int(arr[i]))
            return out
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind in "OU":
            return np.array([self._key_item(k, i) for i, k in enumerate(arr.tolist())], dtype=np.int64)
        raise TypeError(f"keys must be integers (IPv4 addresses) or address strings, got dtype {arr.dtype}")

    def _key_item(self, k: Any, i: int) -> int:
        if k is None:
            raise TypeError(f"keys[{i}] is None")
        if isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)):
            k = int(k)
        return self._key(k)

    def _address(self, ident: int) -> addresses.Address:
        if ident < K.V6_BASE:
            return ipaddress.IPv4Address(ident)
        return ipaddress.IPv6Address(self._v6_addrs[ident - K.V6_BASE])


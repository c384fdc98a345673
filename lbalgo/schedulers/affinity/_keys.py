"""Client keys of :class:`ClientIPAffinity`: IPv4 as is, IPv6 with its full identity."""

from __future__ import annotations

import numpy as np

from .._identity_keys import AddressIdentityKeys


class ClientKeys(AddressIdentityKeys):
    """Kernel keys: an IPv4 address, or ``2**32 + i`` for the i-th distinct IPv6 client.

    ``v6fold[i]`` (the last affinity array) holds the 32-bit fold of IPv6
    client ``i``, which is what the inner scheduler receives.
    """

    _key_role = "the client address"
    _aff: tuple

    def _store_v6_fold(self, index: int, fold: int) -> None:
        a = self._aff
        if index >= len(a[7]):
            grown = np.zeros(2 * len(a[7]), dtype=np.int64)
            grown[: len(a[7])] = a[7]
            self._aff = a[:7] + (grown,)
        self._aff[7][index] = fold

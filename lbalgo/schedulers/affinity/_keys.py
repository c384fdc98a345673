"""Client keys of :class:`ClientIPAffinity`: IPv4 as is, IPv6 with its full identity."""

from __future__ import annotations

import numpy as np

from .._identity_keys import AddressIdentityKeys
from ._store import V6FOLD


class ClientKeys(AddressIdentityKeys):
    """Kernel keys: an IPv4 address, or ``2**32 + i`` for the i-th distinct IPv6 client.

    ``aff[V6FOLD][i]`` holds the 32-bit fold of IPv6
    client ``i``, which is what the inner scheduler receives.
    """

    _key_role = "the client address"
    _aff: tuple

    def _store_v6_fold(self, index: int, fold: int) -> None:
        folds = self._aff[V6FOLD]
        if index >= len(folds):
            grown = np.zeros(2 * len(folds), dtype=np.int64)
            grown[: len(folds)] = folds
            self._aff = self._aff[:V6FOLD] + (grown,) + self._aff[V6FOLD + 1:]
        self._aff[V6FOLD][index] = fold

"""Population models: the client (or destination) key of each connection of a workload.

Keys are the 32-bit values IPVS hashes, as int64: an IPv4 address in host
order, an IPv6 address folded by XOR of its four words (as
:func:`lbalgo.addresses.key_array`). :class:`uniform` and :class:`zipf`
number their clients by popularity rank ``r = 0, 1, ...`` and give rank ``r``
the address ``network + 1 + r``; :class:`RecordedKeys` holds exactly the given
keys, as a recorded trace has them. All are importable from
:mod:`lbalgo.workloads`.
"""

from __future__ import annotations

import ipaddress
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import limits
from ._workload_checks import count, real
from .errors import InvalidArgument, short

__all__ = ["PopulationModel", "uniform", "zipf", "RecordedKeys"]


class PopulationModel:
    """The base class of the population models: ``sample(rng, n)`` gives each connection its key."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Return ``n`` keys (int64) drawn with ``rng``."""
        raise NotImplementedError


def _rank_keys(network: str, n_clients: int) -> tuple[int, int, int]:
    """Return (address of rank 0, IP version, network size), checking the clients fit."""
    try:
        net = ipaddress.ip_network(network, strict=False)
    except (ValueError, TypeError):
        raise InvalidArgument(f"network must be a network such as '10.0.0.0/8', "
                              f"got {short(network)}") from None
    if net.num_addresses < n_clients + 2:
        raise InvalidArgument(f"network {network} has room for {net.num_addresses - 2} clients, "
                         f"not {n_clients}")
    return int(net.network_address) + 1, net.version, net.num_addresses


def _fold(addrs: np.ndarray, first: int, version: int) -> np.ndarray:
    """Keys of the addresses ``first + r`` for ranks ``r`` (int64 array)."""
    if version == 4:
        return (first + addrs).astype(np.int64)
    # IPv6: the four 32-bit words of first + r, folded by XOR as IPVS does.
    words = [(first >> s) & 0xFFFFFFFF for s in (96, 64, 32, 0)]
    low = words[3] + addrs  # carry into the third word when the low word overflows
    carry = low >> 32
    w3 = low & 0xFFFFFFFF
    w2 = (words[2] + carry) & 0xFFFFFFFF  # networks beyond /64 of clients are out of scope
    return (np.int64(words[0] ^ words[1]) ^ w2 ^ w3).astype(np.int64)


@dataclass(frozen=True)
class uniform(PopulationModel):
    """``n_clients`` clients, each equally likely per connection.

    ``network`` is where the addresses live ("10.0.0.0/8" default; an IPv6
    network gives IPv6 clients, folded to 32-bit keys).
    """

    n_clients: int
    network: str = "10.0.0.0/8"

    def __post_init__(self) -> None:
        count(self.n_clients, "n_clients")
        _rank_keys(self.network, self.n_clients)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` client keys, every client equally likely."""
        first, version, _ = _rank_keys(self.network, self.n_clients)
        return _fold(rng.integers(0, self.n_clients, n, dtype=np.int64), first, version)


@dataclass(frozen=True)
class zipf(PopulationModel):
    """``n_clients`` clients; rank ``r`` (0-based) is chosen with probability ∝ ``1 / (r+1)**s``."""

    n_clients: int
    s: float = 1.0
    network: str = "10.0.0.0/8"

    def __post_init__(self) -> None:
        count(self.n_clients, "n_clients")
        limits.check("MAX_CLIENTS", self.n_clients, f"zipf: n_clients = {self.n_clients:,}")
        if isinstance(self.s, bool) or not isinstance(self.s, numbers.Real) \
                or not math.isfinite(real(self.s, "s")) or self.s < 0:
            raise InvalidArgument(f"s must be a finite number >= 0, got {short(self.s)}")
        _rank_keys(self.network, self.n_clients)

    def probabilities(self) -> np.ndarray:
        """Probability of each rank."""
        p = np.arange(1, self.n_clients + 1, dtype=np.float64) ** -float(self.s)
        return p / p.sum()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` client keys, ranks by inverting the cumulative probabilities."""
        first, version, _ = _rank_keys(self.network, self.n_clients)
        cdf = np.cumsum(self.probabilities())
        cdf[-1] = 1.0
        ranks = np.searchsorted(cdf, rng.random(n), side="right")
        return _fold(np.minimum(ranks, self.n_clients - 1).astype(np.int64), first, version)


@dataclass(frozen=True, eq=False)
class RecordedKeys(PopulationModel):
    """Exactly these keys, one per connection (a recorded trace's clients or destinations).

    A 1-D integer array of IPv4 addresses, an ``(n, 4)`` array of IPv6 words
    (folded by XOR), or a sequence of address strings.
    """

    values: Any

    def __post_init__(self) -> None:
        from .addresses import key_array

        object.__setattr__(self, "values", key_array(self.values))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return the recorded keys (``n`` must be their number; ``rng`` is not used)."""
        if n != len(self.values):
            raise InvalidArgument(f"keys holds {len(self.values)} keys but n = {n}")
        return self.values

"""Envoy's load balancers, decision for decision (Envoy v1.36; see ``docs/algorithms/envoy.md``).

One module per policy; the host set, panic and random source they share
live in :mod:`._hosts`, their Python base class and option parsing in
:mod:`._base`, the EDF scheduler in :mod:`._edf` and the EDF balancers' kernels
in :mod:`._edf_lb`, the string hashes in :mod:`._hash`, request and host keys of
the hashing policies in :mod:`._hashing`.
"""

from ._hash import murmur2_64_of, xxhash64_of
from ._hosts import ENVOY_VERSION
from .least_request import EnvoyLeastRequest
from .maglev import EnvoyMaglev
from .random_lb import EnvoyRandom
from .ring_hash import EnvoyRingHash
from .round_robin import EnvoyRoundRobin

__all__ = ["ENVOY_VERSION", "EnvoyRoundRobin", "EnvoyLeastRequest", "EnvoyRandom", "EnvoyRingHash",
           "EnvoyMaglev", "xxhash64_of", "murmur2_64_of"]

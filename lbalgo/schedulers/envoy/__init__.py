"""Envoy's load balancers, decision for decision (Envoy v1.36; see ``docs/algorithms/envoy.md``).

One module per policy; the host set, panic, random source and EDF
scheduler they share live in :mod:`._common`, the string hashes in
:mod:`._hash`, request and host keys of the hashing policies in :mod:`._hashing`.
"""

from ._common import ENVOY_VERSION
from ._hash import murmur2_64_of, xxhash64_of
from .least_request import EnvoyLeastRequest
from .maglev import EnvoyMaglev
from .random_lb import EnvoyRandom
from .ring_hash import EnvoyRingHash
from .round_robin import EnvoyRoundRobin

__all__ = ["ENVOY_VERSION", "EnvoyRoundRobin", "EnvoyLeastRequest", "EnvoyRandom", "EnvoyRingHash",
           "EnvoyMaglev", "xxhash64_of", "murmur2_64_of"]

"""HAProxy 2.6 ``balance`` algorithms, decision for decision (see ``docs/algorithms/haproxy.md``)."""

from .hashing import HAProxyHdr, HAProxySource, HAProxyURI
from .leastconn import HAProxyFirst, HAProxyLeastConn
from .map import HAProxyStaticRR
from .random_lb import HAProxyRandom
from .roundrobin import HAProxyRoundRobin

__all__ = ["HAProxyRoundRobin", "HAProxyStaticRR", "HAProxyLeastConn", "HAProxyFirst", "HAProxySource",
           "HAProxyURI", "HAProxyHdr", "HAProxyRandom"]

"""nginx 1.22 ``upstream`` balancers, decision for decision (see ``docs/algorithms/nginx.md``)."""

from .hash import NginxHash
from .ip_hash import NginxIPHash
from .least_conn import NginxLeastConn
from .random_lb import NginxRandom
from .rr import NginxRR

__all__ = ["NginxRR", "NginxLeastConn", "NginxIPHash", "NginxHash", "NginxRandom"]

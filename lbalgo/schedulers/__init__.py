"""Every scheduler lbalgo implements, one module each; see :mod:`.registry`.

The imports below register the schedulers: their order is the order of
:func:`names` and of ``lbalgo list``, so it is kept as written, not sorted.
"""
# ruff: noqa: I001

from .base import Scheduler
from .registry import SCHEDULERS, get, names, register
from .rr import RR
from .wrr import WRR
from .weighted_random import Random
from .kube_random import IptablesCascade, NftNumgen
from .kube_userspace import UserspaceRR
from .sh import SH
from .dh import DH
from .mh import MH
from .lc import LC
from .wlc import WLC
from .sed import NQ, SED
from .fo import FO, OVF
from .twos import TWOS
from .lblc import LBLC
from .lblcr import LBLCR
from .envoy import EnvoyLeastRequest, EnvoyMaglev, EnvoyRandom, EnvoyRingHash, EnvoyRoundRobin
from .nginx import NginxHash, NginxIPHash, NginxLeastConn, NginxRandom, NginxRR
from .haproxy import (
    HAProxyFirst,
    HAProxyHdr,
    HAProxyLeastConn,
    HAProxyRandom,
    HAProxyRoundRobin,
    HAProxySource,
    HAProxyStaticRR,
    HAProxyURI,
)

__all__ = [
    "Scheduler", "SCHEDULERS", "get", "names", "register",
    "RR", "WRR", "Random", "IptablesCascade", "NftNumgen", "UserspaceRR", "SH", "DH", "MH",
    "LC", "WLC", "SED", "NQ", "FO", "OVF", "TWOS", "LBLC", "LBLCR",
    "EnvoyRoundRobin", "EnvoyLeastRequest", "EnvoyRandom", "EnvoyRingHash", "EnvoyMaglev",
    "NginxRR", "NginxLeastConn", "NginxIPHash", "NginxHash", "NginxRandom",
    "HAProxyRoundRobin", "HAProxyStaticRR", "HAProxyLeastConn", "HAProxyFirst", "HAProxySource", "HAProxyURI",
    "HAProxyHdr", "HAProxyRandom",
]

"""Every scheduler lbalgo implements, one module each; see :mod:`.registry`."""

from .base import Scheduler
from .registry import SCHEDULERS, get, names, register
from .rr import RR
from .wrr import WRR
from .random import Random
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
from .haproxy import (HAProxyFirst, HAProxyHdr, HAProxyLeastConn, HAProxyRandom, HAProxyRoundRobin, HAProxySource,
                      HAProxyStaticRR, HAProxyURI)

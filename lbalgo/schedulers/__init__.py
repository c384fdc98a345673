"""Every scheduler lbalgo implements, one module each; see :mod:`.registry`."""

from .base import Scheduler
from .registry import SCHEDULERS, get, names, register
from .rr import RR
from .wrr import WRR
from .random import Random
from .kube_random import IptablesCascade, NftNumgen

__all__ = ["Scheduler", "SCHEDULERS", "get", "names", "register",
           "RR", "WRR", "Random", "IptablesCascade", "NftNumgen"]

"""lbalgo: load-balancing algorithms that behave like the systems they are named after.

>>> from lbalgo import WRR
>>> s = WRR(weights=[4, 3, 2])
>>> [s.pick() for _ in range(9)]
[0, 0, 1, 0, 1, 2, 0, 1, 2]
"""

from .errors import LbalgoError, NoBackendAvailable, UnknownBackend
from .pool import Pool
from .metrics.disruption import Disruption, disruption
from .schedulers import (
    FO,
    LBLC,
    LBLCR,
    LC,
    NQ,
    OVF,
    RR,
    SCHEDULERS,
    SED,
    TWOS,
    WLC,
    WRR,
    IptablesCascade,
    NftNumgen,
    Random,
    DH,
    MH,
    SH,



    Scheduler,
    ClientIPAffinity,
    get,
    names,
)

from . import workloads
from .sim import Simulation, simulate

__version__ = "0.1.0"

__all__ = [
    "LbalgoError", "NoBackendAvailable", "UnknownBackend", "Pool", "Scheduler",
    "SCHEDULERS", "get", "names", "RR", "WRR", "Random", "IptablesCascade", "NftNumgen",
    "SH", "DH", "MH",
    "disruption", "Disruption",
    "LC", "WLC", "SED", "NQ", "FO", "OVF", "TWOS",
    "LBLC", "LBLCR",
    "ClientIPAffinity",
    "simulate", "Simulation", "workloads",
    "__version__",
]

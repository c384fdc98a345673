"""lbalgo: load-balancing algorithms that behave like the systems they are named after.

>>> from lbalgo import WRR
>>> s = WRR(weights=[4, 3, 2])
>>> [s.pick() for _ in range(9)]
[0, 0, 1, 0, 1, 2, 0, 1, 2]
"""

from .errors import LbalgoError, NoBackendAvailable, UnknownBackend
from .pool import Pool
from .schedulers import (
    FO,
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
    get,
    names,
)

__version__ = "0.1.0"

__all__ = [
    "LbalgoError", "NoBackendAvailable", "UnknownBackend", "Pool", "Scheduler",
    "SCHEDULERS", "get", "names", "RR", "WRR", "Random", "IptablesCascade", "NftNumgen",
    "SH", "DH", "MH",
    "LC", "WLC", "SED", "NQ", "FO", "OVF", "TWOS",
    "__version__",
]

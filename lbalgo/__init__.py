"""lbalgo: load-balancing algorithms that behave like the systems they are named after.

>>> from lbalgo import WRR
>>> s = WRR(weights=[4, 3, 2])
>>> [s.pick() for _ in range(9)]
[0, 0, 1, 0, 1, 2, 0, 1, 2]

The simulator (``simulate``, ``Simulation``, ``workloads``), ``ClientIPAffinity``,
``disruption`` and the comparison reports (``compare``, ``Comparison``) and
parameter sweeps (``sweep``) are imported on first use, so ``import lbalgo`` stays fast.
"""

from importlib import import_module
from typing import Any

from .errors import LbalgoError, NoBackendAvailable, UnknownBackend
from .pool import Pool
from .schedulers import LC, RR, SCHEDULERS, WLC, WRR, Scheduler, get, names
from .schedulers import DH, MH, SH
from .schedulers import FO, NQ, OVF, SED, TWOS, IptablesCascade, NftNumgen, Random
from .schedulers import UserspaceRR
from .schedulers import LBLC, LBLCR
from .schedulers import EnvoyLeastRequest, EnvoyMaglev, EnvoyRandom, EnvoyRingHash, EnvoyRoundRobin
from .schedulers import NginxHash, NginxIPHash, NginxLeastConn, NginxRandom, NginxRR
from .schedulers import (HAProxyFirst, HAProxyHdr, HAProxyLeastConn, HAProxyRandom, HAProxyRoundRobin,
                         HAProxySource, HAProxyStaticRR, HAProxyURI)

__version__ = "0.1.0"

#: Public names loaded lazily: name -> (module, attribute or None for the module itself).
_LAZY = {
    "simulate": (".sim", "simulate"),
    "Simulation": (".sim", "Simulation"),
    "workloads": (".workloads", None),
    "ClientIPAffinity": (".schedulers.affinity", "ClientIPAffinity"),
    "disruption": (".metrics.disruption", "disruption"),
    "Disruption": (".metrics.disruption", "Disruption"),
    "compare": (".report", "compare"),
    "sweep": (".sweeps", "sweep"),  # the function; the package is lbalgo.sweeps
    "Comparison": (".report", "Comparison"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lbalgo' has no attribute {name!r}") from None
    module = import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


__all__ = [
    "LbalgoError", "NoBackendAvailable", "UnknownBackend", "Pool", "Scheduler",
    "SCHEDULERS", "get", "names", "RR", "WRR", "Random", "IptablesCascade", "NftNumgen", "UserspaceRR",
    "SH", "DH", "MH", "LC", "WLC", "SED", "NQ", "FO", "OVF", "TWOS", "LBLC", "LBLCR",
    "EnvoyRoundRobin", "EnvoyLeastRequest", "EnvoyRandom", "EnvoyRingHash", "EnvoyMaglev",
    "NginxRR", "NginxLeastConn", "NginxIPHash", "NginxHash", "NginxRandom",
    "HAProxyRoundRobin", "HAProxyStaticRR", "HAProxyLeastConn", "HAProxyFirst", "HAProxySource", "HAProxyURI",
    "HAProxyHdr", "HAProxyRandom",
    "ClientIPAffinity", "disruption", "Disruption", "simulate", "Simulation", "workloads",
    "compare", "Comparison", "sweep", "__version__",
]

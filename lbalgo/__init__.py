"""lbalgo: load-balancing algorithms that behave like the systems they are named after.

>>> from lbalgo import WRR
>>> s = WRR(weights=[4, 3, 2])
>>> [s.pick() for _ in range(9)]
[0, 0, 1, 0, 1, 2, 0, 1, 2]

The simulator (``simulate``, ``SimulationResult``, ``workloads``), ``ClientIPAffinity``,
``disruption`` and the comparison reports (``compare``, ``Comparison``) and
parameter sweeps (``sweep``) are imported on first use, so ``import lbalgo`` stays fast.
So is ``__version__``, which is read from the installed package's metadata: the
version is declared once, in ``pyproject.toml``.
"""

from importlib import import_module
from typing import Any

from .errors import LbalgoError, NoBackendAvailable, UnknownBackend
from .pool import Pool
from .schedulers import (
    DH,
    FO,
    LBLC,
    LBLCR,
    LC,
    MH,
    NQ,
    OVF,
    RR,
    SCHEDULERS,
    SED,
    SH,
    TWOS,
    WLC,
    WRR,
    EnvoyLeastRequest,
    EnvoyMaglev,
    EnvoyRandom,
    EnvoyRingHash,
    EnvoyRoundRobin,
    HAProxyFirst,
    HAProxyHdr,
    HAProxyLeastConn,
    HAProxyRandom,
    HAProxyRoundRobin,
    HAProxySource,
    HAProxyStaticRR,
    HAProxyURI,
    IptablesCascade,
    NftNumgen,
    NginxHash,
    NginxIPHash,
    NginxLeastConn,
    NginxRandom,
    NginxRR,
    Random,
    Scheduler,
    UserspaceRR,
    get,
    names,
)

#: Public names loaded lazily: name -> (module, attribute or None for the module itself).
_LAZY = {
    "simulate": (".sim", "simulate"),
    "SimulationResult": (".sim", "SimulationResult"),
    "Simulation": (".sim", "Simulation"),  # the former name of SimulationResult
    "workloads": (".workloads", None),
    "ClientIPAffinity": (".schedulers.affinity", "ClientIPAffinity"),
    "disruption": (".metrics.disruption", "disruption"),
    "Disruption": (".metrics.disruption", "Disruption"),
    "compare": (".report", "compare"),
    "sweep": (".sweeps", "sweep"),  # the function; the package is lbalgo.sweeps
    "Comparison": (".report", "Comparison"),
}


def _version() -> str:
    """Return the version ``pyproject.toml`` declares, as installed ("0+unknown" if never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(__name__)
    except PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata takes ~50 ms to import: only when asked
        value: Any = _version()
    else:
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
    "ClientIPAffinity", "disruption", "Disruption", "simulate", "SimulationResult", "Simulation", "workloads",
    "compare", "Comparison", "sweep", "__version__",
]

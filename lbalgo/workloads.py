"""Workloads for the simulator: a seeded :class:`Workload` of arrivals, lifetimes and keys.

A :class:`Workload` combines three models and a seed::

    wl = Workload(arrivals=poisson(rate=2000.0), n=1_000_000,
                  lifetimes=lognormal(mean=2.0, sigma=1.0),
                  clients=zipf(n_clients=50_000, s=1.1), seed=7)
    a = wl.generate()     # a.arrival, a.lifetime, a.client, a.destination

The models live in their own modules, and are all importable from here:
arrival models (when connections arrive) in :mod:`lbalgo.arrivals`, duration
models (how long each lasts, or the work it brings) in :mod:`lbalgo.durations`,
client and destination populations (the keys passed to ``pick``) in
:mod:`lbalgo.populations`. This module assembles them.

Sampling happens in NumPy, before the compiled loop. Each model draws from its
own ``numpy.random.Generator(PCG64(...))``, seeded from
``SeedSequence(seed).spawn(4)`` (arrivals, lifetimes, clients, destinations),
so the same seed gives the same arrays in every process, and changing one
model does not change the others' draws.

:class:`RecordedArrivals`, :class:`RecordedDurations` and
:class:`RecordedKeys` hold exactly the given values, one per connection (a
recorded trace); :func:`lbalgo.traces.load_trace` reads a trace file into
them. Their former names, ``replay``, ``given`` and ``keys``, still work, as
do ``Generated`` for :class:`WorkloadArrays` and ``load_trace`` and
``TraceError`` imported from here.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import limits
from .arrivals import ArrivalModel, RecordedArrivals, constant_rate, onoff, poisson
from .durations import DurationModel, RecordedDurations, constant, empirical, exponential, lognormal, pareto
from .errors import InvalidArgument, InvalidArgumentType, short
from .populations import PopulationModel, RecordedKeys, uniform, zipf

__all__ = [
    "Workload", "WorkloadArrays",
    "poisson", "constant_rate", "onoff", "RecordedArrivals",
    "exponential", "lognormal", "pareto", "constant", "empirical", "RecordedDurations",
    "uniform", "zipf", "RecordedKeys",
    "Generated", "replay", "given", "keys",
]
__all__ += ["TraceError", "load_trace"]  # noqa: F822 - in lbalgo.traces, loaded by __getattr__


@dataclass
class WorkloadArrays:
    """The arrays of one generated workload, one entry per connection (all of length ``n``)."""

    arrival: np.ndarray  # float64, non-decreasing
    lifetime: np.ndarray  # float64 >= 0
    client: np.ndarray  # int64 keys (zeros when there is no client model)
    destination: np.ndarray | None  # int64 keys or None

    def __len__(self) -> int:
        return len(self.arrival)


@dataclass
class Workload:
    """Arrivals, lifetimes and keys of ``n`` connections, seeded.

    Parameters
    ----------
    arrivals : poisson, constant_rate, onoff or RecordedArrivals
        When connections arrive.
    n : int, optional
        Number of connections (default: the length of recorded arrivals).
    lifetimes : exponential, lognormal, pareto, constant, empirical or RecordedDurations
        How long each connection lasts (or how much work it brings).
    clients, destinations : uniform, zipf or RecordedKeys, optional
        Client keys (SH, affinity) and destination keys (DH, LBLC).
    seed : int
        Seed of the generators.
    """

    arrivals: Any
    n: int | None = None
    lifetimes: Any = None
    clients: Any = None
    destinations: Any = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.arrivals, ArrivalModel):
            raise InvalidArgumentType("arrivals must be an arrival model (poisson, ...), got "
                                      f"{short(self.arrivals)}")
        if self.n is None:
            if not isinstance(self.arrivals, RecordedArrivals):
                raise InvalidArgument("n (the number of connections) is needed unless arrivals replay a "
                                      "trace")
            self.n = len(self.arrivals.values)
        if isinstance(self.n, bool) or not isinstance(self.n, numbers.Integral) or int(self.n) < 0:
            raise InvalidArgument(f"n must be an integer >= 0, got {short(self.n)}")
        self.n = int(self.n)
        limits.check("MAX_CONNECTIONS", self.n, f"n = {self.n:,} connections")
        if not isinstance(self.lifetimes, DurationModel):
            raise InvalidArgumentType("lifetimes must be a duration model (exponential, ...), got "
                                      f"{short(self.lifetimes)}")
        for what in ("clients", "destinations"):
            v = getattr(self, what)
            if v is not None and not isinstance(v, PopulationModel):
                raise InvalidArgumentType(f"{what} must be a population (uniform, zipf, keys), got "
                                          f"{short(v)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise InvalidArgument(f"seed must be an integer >= 0, got {short(self.seed)}")

    def generate(self) -> WorkloadArrays:
        """Draw the arrays (the same seed always gives the same arrays)."""
        streams = np.random.SeedSequence(int(self.seed)).spawn(4)
        rngs = [np.random.Generator(np.random.PCG64(s)) for s in streams]
        n = self.n
        arrival = np.ascontiguousarray(self.arrivals.times(rngs[0], n), dtype=np.float64)
        lifetime = np.ascontiguousarray(self.lifetimes.sample(rngs[1], n), dtype=np.float64)
        client = (np.zeros(n, dtype=np.int64) if self.clients is None
                  else np.ascontiguousarray(self.clients.sample(rngs[2], n), dtype=np.int64))
        dest = (None if self.destinations is None
                else np.ascontiguousarray(self.destinations.sample(rngs[3], n), dtype=np.int64))
        return WorkloadArrays(arrival, lifetime, client, dest)


# -- former names ------------------------------------------------------------------------
#: :class:`RecordedArrivals` under its former name.
replay = RecordedArrivals
#: :class:`RecordedDurations` under its former name.
given = RecordedDurations
#: :class:`RecordedKeys` under its former name.
keys = RecordedKeys
#: :class:`WorkloadArrays` under its former name.
Generated = WorkloadArrays

#: Trace file names that moved to lbalgo.traces, importable from here as before.
_IN_TRACES = ("TraceError", "load_trace", "MAX_CSV_LINE")


def __getattr__(name: str) -> Any:
    if name not in _IN_TRACES:
        raise AttributeError(f"module 'lbalgo.workloads' has no attribute {name!r}")
    from . import traces

    value = getattr(traces, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_IN_TRACES))

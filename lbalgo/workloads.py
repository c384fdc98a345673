"""Workloads for the simulator: arrivals, lifetimes and the keys passed to ``pick``.

A :class:`Workload` combines three models and a seed::

    wl = Workload(arrivals=poisson(rate=2000.0), n=1_000_000,
                  lifetimes=lognormal(mean=2.0, sigma=1.0),
                  clients=zipf(n_clients=50_000, s=1.1), seed=7)
    a = wl.generate()     # a.arrival, a.lifetime, a.client, a.destination

Sampling happens in NumPy, before the compiled loop. Each model draws from its
own ``numpy.random.Generator(PCG64(...))``, seeded from
``SeedSequence(seed).spawn(4)`` (arrivals, lifetimes, clients, destinations),
so the same seed gives the same arrays in every process, and changing one
model does not change the others' draws.

Keys are the 32-bit values IPVS hashes, as int64: an IPv4 address in host
order, an IPv6 address folded by XOR of its four words (as
:func:`lbalgo.addresses.key_array`). Client populations number their
clients by popularity rank ``r = 0, 1, ...`` and give rank ``r`` the address
``network + 1 + r``.

A lifetime is how long a connection is open (infinite-server model) or the
work it brings (FIFO model: service time = work / speed). ``lognormal(mean,
sigma)`` is parameterised by its arithmetic *mean* and the standard deviation
``sigma`` of the underlying normal: ``mu = log(mean) - sigma**2 / 2``.
``pareto(alpha, mean)`` is the classic Pareto with scale
``x_m = mean * (alpha - 1) / alpha`` (needs ``alpha > 1``).

:class:`RecordedArrivals`, :class:`RecordedDurations` and
:class:`RecordedKeys` hold exactly the given values, one per connection (a
recorded trace); :func:`lbalgo.traces.load_trace` reads a trace file into
them. Their former names, ``replay``, ``given`` and ``keys``, still work, as
do ``Generated`` for :class:`WorkloadArrays` and ``load_trace`` and
``TraceError`` imported from here.
"""

from __future__ import annotations

import ipaddress
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import limits
from .errors import InvalidArgument, InvalidArgumentType, LbalgoError, short

__all__ = [
    "Workload", "WorkloadArrays",
    "poisson", "constant_rate", "onoff", "RecordedArrivals",
    "exponential", "lognormal", "pareto", "constant", "empirical", "RecordedDurations",
    "uniform", "zipf", "RecordedKeys",
    "Generated", "replay", "given", "keys",
]
__all__ += ["TraceError", "load_trace"]  # noqa: F822 - in lbalgo.traces, loaded by __getattr__


def _real(value: Any, what: str) -> float:
    """``value`` as a float, or raise naming ``what`` (an integer too large for a float is infinite)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentType(f"{what} must be a number, got {short(value)}")
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _positive(value: Any, what: str) -> float:
    v = _real(value, what)
    if not math.isfinite(v) or v <= 0:
        raise InvalidArgument(f"{what} must be finite and > 0, got {short(value)}")
    return v


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise InvalidArgument(f"{what} must be an integer >= 1, got {short(value)}")
    return int(value)


def _times_array(values: Any, what: str) -> np.ndarray:
    from ._validate import flat

    try:
        a = np.ascontiguousarray(flat(values, what), dtype=np.float64)
    except (TypeError, ValueError) as e:
        if isinstance(e, LbalgoError):
            raise
        raise InvalidArgument(f"{what} must be numbers ({' '.join(str(e).split())[:80]})") from None
    if a.ndim != 1:
        raise InvalidArgument(f"{what} must be 1-D, got shape {a.shape}")
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidArgument(f"{what}[{i}] = {short(a[i])} is not a finite time >= 0")
    return a


# -- arrivals -------------------------------------------------------------------------
class _Arrivals:
    """An arrival model: when the connections arrive."""

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Return ``n`` non-decreasing arrival times drawn with ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True)
class poisson(_Arrivals):
    """Poisson arrivals: independent exponential gaps of mean ``1/rate``; the first at one gap."""

    rate: float

    def __post_init__(self) -> None:
        _positive(self.rate, "rate")

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` arrival times: the running sum of exponential gaps."""
        return np.cumsum(rng.exponential(1.0 / self.rate, n))


@dataclass(frozen=True)
class constant_rate(_Arrivals):
    """Deterministic arrivals every ``1/rate`` seconds, the first at ``start``."""

    rate: float
    start: float = 0.0

    def __post_init__(self) -> None:
        _positive(self.rate, "rate")
        start = _real(self.start, "start")
        if not math.isfinite(start) or start < 0:
            raise InvalidArgument(f"start must be a finite time >= 0, got {short(self.start)}")

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return ``n`` arrival times ``1/rate`` apart from ``start`` (``rng`` is not used)."""
        return self.start + np.arange(n, dtype=np.float64) / self.rate


@dataclass(frozen=True)
class onoff(_Arrivals):
    """Bursty on/off arrivals (an interrupted Poisson process).

    The source starts "on"; on and off periods are exponential with means
    ``mean_on`` and ``mean_off``. While on, arrivals are Poisson at ``rate``;
    while off there are none. The long-run rate is
    ``rate * mean_on / (mean_on + mean_off)``.
    """

    rate: float
    mean_on: float
    mean_off: float

    def __post_init__(self) -> None:
        _positive(self.rate, "rate")
        _positive(self.mean_on, "mean_on")
        _positive(self.mean_off, "mean_off")

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Arrival times of ``n`` connections.

        Raises :class:`~lbalgo.errors.LimitExceeded` before drawing more than
        ``lbalgo.limits.MAX_ONOFF_PERIODS`` on/off periods (the expected count
        is checked before anything is drawn).
        """
        expected = 2 * (n / self.rate) / self.mean_on + 16
        self._check_periods(expected, n)
        on_clock = np.cumsum(rng.exponential(1.0 / self.rate, n))  # time spent "on"
        horizon = on_clock[-1] if n else 0.0
        needed = 2 * horizon / self.mean_on + 16
        self._check_periods(needed, n)
        periods = max(16, int(needed))
        ons = rng.exponential(self.mean_on, periods)
        offs = rng.exponential(self.mean_off, periods)
        while ons.sum() < horizon:
            self._check_periods(len(ons) + periods, n)
            ons = np.concatenate((ons, rng.exponential(self.mean_on, periods)))
            offs = np.concatenate((offs, rng.exponential(self.mean_off, periods)))
        ends = np.cumsum(ons)
        period = np.searchsorted(ends, on_clock, side="left")
        off_before = np.concatenate(([0.0], np.cumsum(offs)))[period]
        return on_clock + off_before

    def _check_periods(self, periods: float, n: int) -> None:
        limits.check("MAX_ONOFF_PERIODS", periods,
                     f"onoff: mean_on = {self.mean_on!r} s is so short that {n:,} arrivals at rate "
                     f"{self.rate!r} "
                     f"need about {periods:.3g} on/off periods, which")


@dataclass(frozen=True, eq=False)
class RecordedArrivals(_Arrivals):
    """Arrivals at exactly the given times, one per connection (non-decreasing, finite, >= 0)."""

    values: Any

    def __post_init__(self) -> None:
        a = _times_array(self.values, "arrival times")
        dec = np.flatnonzero(np.diff(a) < 0)
        if dec.size:
            i = int(dec[0]) + 1
            raise InvalidArgument(f"arrival times must be non-decreasing: [{i}] = {a[i]} < [{i - 1}] = "
                                  f"{a[i - 1]}")
        object.__setattr__(self, "values", a)

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return the recorded times (``n`` must be their number; ``rng`` is not used)."""
        if n != len(self.values):
            raise InvalidArgument(f"replay holds {len(self.values)} arrival times but n = {n}")
        return self.values


# -- lifetimes / service times ----------------------------------------------------------
class _Durations:
    """A duration model: how long each connection lasts, or the work it brings."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Return ``n`` durations (>= 0) drawn with ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True)
class exponential(_Durations):
    """Exponential durations with the given mean."""

    mean: float

    def __post_init__(self) -> None:
        _positive(self.mean, "mean")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` exponential durations."""
        return rng.exponential(self.mean, n)


@dataclass(frozen=True)
class lognormal(_Durations):
    """Log-normal durations with arithmetic mean ``mean``; ``sigma`` of the underlying normal."""

    mean: float
    sigma: float

    def __post_init__(self) -> None:
        _positive(self.mean, "mean")
        _positive(self.sigma, "sigma")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` log-normal durations (``mu = log(mean) - sigma**2 / 2``)."""
        mu = math.log(self.mean) - self.sigma**2 / 2
        return rng.lognormal(mu, self.sigma, n)


@dataclass(frozen=True)
class pareto(_Durations):
    """Pareto durations with shape ``alpha`` > 1 and the given mean (scale ``mean*(alpha-1)/alpha``)."""

    alpha: float
    mean: float

    def __post_init__(self) -> None:
        _positive(self.mean, "mean")
        if _positive(self.alpha, "alpha") <= 1:
            raise InvalidArgument(f"alpha must be > 1 for a finite mean, got {short(self.alpha)}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` Pareto durations: ``scale * (1 + Lomax(alpha))``."""
        scale = self.mean * (self.alpha - 1) / self.alpha
        return scale * (1.0 + rng.pareto(self.alpha, n))


@dataclass(frozen=True)
class constant(_Durations):
    """Every duration equals ``value`` (>= 0)."""

    value: float

    def __post_init__(self) -> None:
        value = _real(self.value, "value")
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"value must be finite and >= 0, got {short(self.value)}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return ``n`` copies of ``value`` (``rng`` is not used)."""
        return np.full(n, float(self.value))


@dataclass(frozen=True, eq=False)
class empirical(_Durations):
    """Durations drawn with replacement, uniformly, from the given sample."""

    values: Any

    def __post_init__(self) -> None:
        a = _times_array(self.values, "empirical values")
        if a.size == 0:
            raise InvalidArgument("empirical needs at least one value")
        object.__setattr__(self, "values", a)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` durations from the sample, uniformly with replacement."""
        return self.values[rng.integers(0, self.values.size, n)]


@dataclass(frozen=True, eq=False)
class RecordedDurations(_Durations):
    """Exactly these durations, one per connection (a recorded trace's lifetimes)."""

    values: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _times_array(self.values, "durations"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return the recorded durations (``n`` must be their number; ``rng`` is not used)."""
        if n != len(self.values):
            raise InvalidArgument(f"given holds {len(self.values)} durations but n = {n}")
        return self.values


# -- client (or destination) populations ----------------------------------------------
class _Population:
    """A population model: the client (or destination) key of each connection."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Return ``n`` keys (int64) drawn with ``rng``."""
        raise NotImplementedError


def _rank_keys(network: str, n_clients: int) -> tuple[int, int, int]:
    """Return (address of rank 0, IP version, network size), checking the clients fit."""
    try:
        net = ipaddress.ip_network(network, strict=False)
    except (ValueError, TypeError):
        raise InvalidArgument(f"network must be a network such as '10.0.0.0/8', "
                              f"got {short(network)}") from None
    if net.num_addresses < n_clients + 2:
        raise InvalidArgument(f"network {network} has room for {net.num_addresses - 2} clients, "
                         f"not {n_clients}")
    return int(net.network_address) + 1, net.version, net.num_addresses


def _fold(addrs: np.ndarray, first: int, version: int) -> np.ndarray:
    """Keys of the addresses ``first + r`` for ranks ``r`` (int64 array)."""
    if version == 4:
        return (first + addrs).astype(np.int64)
    # IPv6: the four 32-bit words of first + r, folded by XOR as IPVS does.
    words = [(first >> s) & 0xFFFFFFFF for s in (96, 64, 32, 0)]
    low = words[3] + addrs  # carry into the third word when the low word overflows
    carry = low >> 32
    w3 = low & 0xFFFFFFFF
    w2 = (words[2] + carry) & 0xFFFFFFFF  # networks beyond /64 of clients are out of scope
    return (np.int64(words[0] ^ words[1]) ^ w2 ^ w3).astype(np.int64)


@dataclass(frozen=True)
class uniform(_Population):
    """``n_clients`` clients, each equally likely per connection.

    ``network`` is where the addresses live ("10.0.0.0/8" default; an IPv6
    network gives IPv6 clients, folded to 32-bit keys).
    """

    n_clients: int
    network: str = "10.0.0.0/8"

    def __post_init__(self) -> None:
        _count(self.n_clients, "n_clients")
        _rank_keys(self.network, self.n_clients)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` client keys, every client equally likely."""
        first, version, _ = _rank_keys(self.network, self.n_clients)
        return _fold(rng.integers(0, self.n_clients, n, dtype=np.int64), first, version)


@dataclass(frozen=True)
class zipf(_Population):
    """``n_clients`` clients; rank ``r`` (0-based) is chosen with probability ∝ ``1 / (r+1)**s``."""

    n_clients: int
    s: float = 1.0
    network: str = "10.0.0.0/8"

    def __post_init__(self) -> None:
        _count(self.n_clients, "n_clients")
        limits.check("MAX_CLIENTS", self.n_clients, f"zipf: n_clients = {self.n_clients:,}")
        if isinstance(self.s, bool) or not isinstance(self.s, numbers.Real) \
                or not math.isfinite(_real(self.s, "s")) or self.s < 0:
            raise InvalidArgument(f"s must be a finite number >= 0, got {short(self.s)}")
        _rank_keys(self.network, self.n_clients)

    def probabilities(self) -> np.ndarray:
        """Probability of each rank."""
        p = np.arange(1, self.n_clients + 1, dtype=np.float64) ** -float(self.s)
        return p / p.sum()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` client keys, ranks by inverting the cumulative probabilities."""
        first, version, _ = _rank_keys(self.network, self.n_clients)
        cdf = np.cumsum(self.probabilities())
        cdf[-1] = 1.0
        ranks = np.searchsorted(cdf, rng.random(n), side="right")
        return _fold(np.minimum(ranks, self.n_clients - 1).astype(np.int64), first, version)


@dataclass(frozen=True, eq=False)
class RecordedKeys(_Population):
    """Exactly these keys, one per connection (a recorded trace's clients or destinations).

    A 1-D integer array of IPv4 addresses, an ``(n, 4)`` array of IPv6 words
    (folded by XOR), or a sequence of address strings.
    """

    values: Any

    def __post_init__(self) -> None:
        from .addresses import key_array

        object.__setattr__(self, "values", key_array(self.values))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return the recorded keys (``n`` must be their number; ``rng`` is not used)."""
        if n != len(self.values):
            raise InvalidArgument(f"keys holds {len(self.values)} keys but n = {n}")
        return self.values


# -- the workload ---------------------------------------------------------------------
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
        if not isinstance(self.arrivals, _Arrivals):
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
        if not isinstance(self.lifetimes, _Durations):
            raise InvalidArgumentType("lifetimes must be a duration model (exponential, ...), got "
                                      f"{short(self.lifetimes)}")
        for what in ("clients", "destinations"):
            v = getattr(self, what)
            if v is not None and not isinstance(v, _Population):
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

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

Recorded traces load with :func:`load_trace` (CSV with a header, ``.npy``
structured arrays or ``.npz``); malformed rows raise :class:`TraceError`
naming the line (or row) and column.
"""

from __future__ import annotations

import ast
import csv
import ipaddress
import math
import numbers
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import errors, limits
from .errors import InvalidArgument, InvalidArgumentType, LbalgoError, short

__all__ = [
    "Workload", "Generated", "TraceError", "load_trace",
    "poisson", "constant_rate", "onoff", "replay",
    "exponential", "lognormal", "pareto", "constant", "empirical", "given",
    "uniform", "zipf", "keys",
]


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
    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class poisson(_Arrivals):
    """Poisson arrivals: independent exponential gaps of mean ``1/rate``; the first at one gap."""

    rate: float

    def __post_init__(self) -> None:
        _positive(self.rate, "rate")

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
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
class replay(_Arrivals):
    """Arrivals at the given times (non-decreasing, finite, >= 0)."""

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
        if n != len(self.values):
            raise InvalidArgument(f"replay holds {len(self.values)} arrival times but n = {n}")
        return self.values


# -- lifetimes / service times ----------------------------------------------------------
class _Durations:
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class exponential(_Durations):
    """Exponential durations with the given mean."""

    mean: float

    def __post_init__(self) -> None:
        _positive(self.mean, "mean")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
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
        return self.values[rng.integers(0, self.values.size, n)]


@dataclass(frozen=True, eq=False)
class given(_Durations):
    """Exactly these durations, one per connection (a recorded trace)."""

    values: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _times_array(self.values, "durations"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if n != len(self.values):
            raise InvalidArgument(f"given holds {len(self.values)} durations but n = {n}")
        return self.values


# -- client (or destination) populations ----------------------------------------------
class _Population:
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
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
        first, version, _ = _rank_keys(self.network, self.n_clients)
        cdf = np.cumsum(self.probabilities())
        cdf[-1] = 1.0
        ranks = np.searchsorted(cdf, rng.random(n), side="right")
        return _fold(np.minimum(ranks, self.n_clients - 1).astype(np.int64), first, version)


@dataclass(frozen=True, eq=False)
class keys(_Population):
    """Exactly these keys, one per connection.

    A 1-D integer array of IPv4 addresses, an ``(n, 4)`` array of IPv6 words
    (folded by XOR), or a sequence of address strings.
    """

    values: Any

    def __post_init__(self) -> None:
        from .addresses import key_array

        object.__setattr__(self, "values", key_array(self.values))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if n != len(self.values):
            raise InvalidArgument(f"keys holds {len(self.values)} keys but n = {n}")
        return self.values


# -- the workload ---------------------------------------------------------------------
@dataclass
class Generated:
    """The arrays of one generated workload (all of length ``n``)."""

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
    arrivals : poisson, constant_rate, onoff or replay
        When connections arrive.
    n : int, optional
        Number of connections (default: the length of a replayed trace).
    lifetimes : exponential, lognormal, pareto, constant, empirical or given
        How long each connection lasts (or how much work it brings).
    clients, destinations : uniform, zipf or keys, optional
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
            if not isinstance(self.arrivals, replay):
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

    def generate(self) -> Generated:
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
        return Generated(arrival, lifetime, client, dest)


# -- recorded traces -------------------------------------------------------------------
class TraceError(LbalgoError, ValueError):
    """A recorded trace file is malformed (the message names the file, the line/row and column)."""


_ARRIVAL = ("arrival", "time", "t")
_LIFETIME = ("lifetime", "duration", "service")


def _find(names: list[str], options: tuple[str, ...]) -> str | None:
    for o in options:
        if o in names:
            return o
    return None


def _key_value(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        v = int(text)
        return v if v < 2**32 else _fold32(ipaddress.IPv6Address(v))
    return _fold32(ipaddress.ip_address(text))


def _fold32(addr: Any) -> int:
    v = int(addr)
    if addr.version == 4:
        return v
    return (v >> 96 ^ v >> 64 ^ v >> 32 ^ v) & 0xFFFFFFFF


def load_trace(path: str | os.PathLike, *, seed: int = 0) -> Workload:
    """Load a recorded trace as a :class:`Workload` that replays it exactly.

    Columns (CSV header names, ``.npy`` structured-array fields or ``.npz``
    array names): ``arrival`` (or ``time``), ``lifetime`` (or ``duration``),
    and optionally ``client`` and ``destination`` (an IPv4/IPv6 address or
    an integer). Arrival times must be non-decreasing.

    Raises
    ------
    TraceError
        Naming the file, the line (CSV, 1-based, the header is line 1) or row
        (NumPy, 0-based), and the column of the first bad value.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        cols = _read_csv(path)
    elif ext in (".npy", ".npz"):
        cols = _read_numpy(path, ext)
    else:
        raise TraceError(f"{path}: unknown trace format {short(ext)} (use .csv, .npy or .npz)")
    arrival, lifetime = cols["arrival"], cols["lifetime"]
    n = len(arrival)
    return Workload(arrivals=replay(arrival), n=n, lifetimes=given(lifetime),
                    clients=None if cols.get("client") is None else keys(cols["client"]),
                    destinations=None if cols.get("destination") is None else keys(cols["destination"]),
                    seed=seed)


#: Longest line of a CSV trace (characters); a longer one is not a trace.
MAX_CSV_LINE = 1 << 20


def _open_trace(path: str, regular_only: bool) -> Any:
    """Open a trace file, checking before reading that it is a file within ``MAX_TRACE_BYTES``."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise TraceError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise TraceError(f"cannot read {path}: it is a directory")
        if regular_only and not stat.S_ISREG(st.st_mode):
            raise TraceError(f"{path}: a NumPy trace must be a regular file")
        if stat.S_ISREG(st.st_mode):
            limits.check("MAX_TRACE_BYTES", st.st_size,
                         f"{path}: the file ({limits.describe('MAX_TRACE_BYTES', st.st_size)})", TraceError)
    except BaseException:
        f.close()
        raise
    return f


def _bounded_lines(f: Any, path: str) -> Any:
    """The lines of binary file ``f`` as text, stopping at ``MAX_TRACE_BYTES`` in all (a pipe, /dev/zero).

    Each line is decoded as UTF-8 on its own (a leading byte-order mark is
    dropped), so an undecodable byte is reported on its own line.
    """
    cap = limits.get("MAX_TRACE_BYTES")
    total = 0
    number = 0
    while True:
        raw = f.readline(MAX_CSV_LINE + 1)
        if not raw:
            return
        number += 1
        total += len(raw)
        if len(raw) > MAX_CSV_LINE:
            raise TraceError(f"{path} line {number}: longer than {MAX_CSV_LINE:,} bytes; not a trace")
        if total > cap:
            too_large = errors.limit_error(TraceError)
            raise too_large(f"{path}: the input is over {limits.describe('MAX_TRACE_BYTES')} "
                            f"({limits.how_to_raise('MAX_TRACE_BYTES')})")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TraceError(f"{path} line {number}: not UTF-8 text (byte 0x{raw[e.start]:02x}); "
                             "save the file as UTF-8") from None


def _read_csv(path: str) -> dict[str, np.ndarray]:
    with _open_trace(path, regular_only=False) as f:
        reader = csv.reader(_bounded_lines(f, path))
        try:
            return _csv_columns(reader, path)
        except csv.Error as e:
            raise TraceError(f"{path} line {reader.line_num}: not valid CSV: {e}") from None


def _csv_columns(reader: Any, path: str) -> dict[str, np.ndarray]:
    header = next(reader, None)
    if header is None:
        raise TraceError(f"{path}: the file is empty (a header line is needed)")
    names = [h.strip().lower() for h in header]
    a_name, l_name = _find(names, _ARRIVAL), _find(names, _LIFETIME)
    if a_name is None or l_name is None:
        missing = "arrival" if a_name is None else "lifetime"
        raise TraceError(f"{path} line 1: no {short(missing)} column in the header {short(header)}")
    ia, il = names.index(a_name), names.index(l_name)
    ic = names.index("client") if "client" in names else None
    idst = names.index("destination") if "destination" in names else None
    arrival, lifetime, client, dest = [], [], [], []
    last = -math.inf
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(names):
            raise TraceError(f"{path} line {line}: expected {len(names)} fields, got {len(row)}")
        t = _number(path, line, a_name, row[ia])
        if t < last:
            raise TraceError(f"{path} line {line}, column {short(a_name)}: {t} is earlier than the "
                             f"previous arrival {last} (arrivals must be non-decreasing)")
        last = t
        arrival.append(t)
        lifetime.append(_number(path, line, l_name, row[il]))
        for idx, name, out in ((ic, "client", client), (idst, "destination", dest)):
            if idx is not None:
                try:
                    out.append(_key_value(row[idx]))
                except ValueError:
                    raise TraceError(f"{path} line {line}, column {short(name)}: {short(row[idx])} is not an "
                                     f"IP address or integer key") from None
    return {"arrival": np.array(arrival, dtype=np.float64), "lifetime": np.array(lifetime, dtype=np.float64),
            "client": np.array(client, dtype=np.int64) if ic is not None else None,
            "destination": np.array(dest, dtype=np.int64) if idst is not None else None}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _number(path: str, line: int, column: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise TraceError(f"{path} line {line}, column {short(column)}: {short(text)} "
                         "is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise TraceError(f"{path} line {line}, column {short(column)}: {short(text)} is not a finite time >= "
                         "0")
    return v


#: What a malformed .npy / .npz file can raise inside NumPy and zipfile.
_NUMPY_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError, UnicodeError,
                 SyntaxError, RecursionError, struct.error, zlib.error, RuntimeError, NotImplementedError)


def _npy_declared(f: Any, where: str, available: int) -> int:
    """Bytes of data the .npy header at ``f``'s position declares, checked against ``available`` and the limit.

    Reads only the header (NumPy would allocate what the header declares,
    1.5 TiB if it says so, before noticing the data is missing).
    """
    if f.read(6) != b"\x93NUMPY":
        raise TraceError(f"{where}: not a .npy array (bad magic bytes)")
    version = f.read(2)
    if len(version) != 2 or version[0] not in (1, 2, 3):
        raise TraceError(f"{where}: unknown .npy format version {tuple(version)}")
    size_bytes = 2 if version[0] == 1 else 4
    raw = f.read(size_bytes)
    if len(raw) != size_bytes:
        raise TraceError(f"{where}: the .npy header is cut short")
    length = struct.unpack("<H" if size_bytes == 2 else "<I", raw)[0]
    if length > 1 << 16:
        raise TraceError(f"{where}: the .npy header declares {length:,} bytes; not a trace")
    text = f.read(length)
    if len(text) != length:
        raise TraceError(f"{where}: the .npy header is cut short")
    header = ast.literal_eval(text.decode("utf-8" if version[0] == 3 else "latin1"))
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= set(header):
        raise TraceError(f"{where}: the .npy header is not a NumPy array header")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise TraceError(f"{where}: the .npy header has a bad shape {short(shape)}")
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    declared = math.prod(shape) * dtype.itemsize
    limits.check("MAX_TRACE_BYTES", declared,
                 f"{where}: the array ({short(shape)} of {short(str(dtype))}, "
                 f"{limits.describe('MAX_TRACE_BYTES', declared)})", TraceError)
    data = available - 6 - 2 - size_bytes - length
    if dtype.hasobject:
        raise TraceError(f"{where}: the array holds Python objects (pickles), which are not read")
    if declared > data:
        raise TraceError(f"{where}: the header declares {short(shape)} of {short(str(dtype))} "
                         f"({declared:,} bytes) "
                         f"but the file holds {max(data, 0):,} bytes of data")
    return declared


def _read_numpy(path: str, ext: str) -> dict[str, np.ndarray]:
    """The columns of a .npy (structured array) or .npz (one array per column) trace, sizes checked first."""
    with _open_trace(path, regular_only=True) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            if size == 0:
                raise TraceError(f"{path}: the file is empty")
            if ext == ".npy":
                _npy_declared(f, path, size)
                f.seek(0)
                data = np.load(f, allow_pickle=False)
                if data.dtype.names is None:
                    raise TraceError(f"{path}: a .npy trace must be a structured array with named fields "
                                     f"(arrival, lifetime, ...), got dtype {data.dtype}")
                fields = {name.lower(): data[name] for name in data.dtype.names}
            else:
                with zipfile.ZipFile(f) as archive:
                    members = archive.infolist()
                    total = sum(info.file_size for info in members)
                    limits.check("MAX_TRACE_BYTES", total, f"{path}: the arrays, decompressed "
                                 f"({limits.describe('MAX_TRACE_BYTES', total)})", TraceError)
                    for info in members:
                        with archive.open(info) as member:
                            _npy_declared(member, f"{path} [{short(info.filename)}]", info.file_size)
                f.seek(0)
                with np.load(f, allow_pickle=False) as z:
                    fields = {name.lower(): z[name] for name in z.files}
        except TraceError:
            raise
        except _NUMPY_ERRORS as exc:
            raise TraceError(f"{path}: cannot read as {ext}: {_one_line(exc)}") from None
    a_name, l_name = _find(list(fields), _ARRIVAL), _find(list(fields), _LIFETIME)
    if a_name is None or l_name is None:
        missing = "arrival" if a_name is None else "lifetime"
        raise TraceError(f"{path}: no {short(missing)} field (found {sorted(fields)})")
    out: dict[str, Any] = {}
    n = None
    for key, name in (("arrival", a_name), ("lifetime", l_name), ("client", "client"),
                      ("destination", "destination")):
        if name not in fields:
            out[key] = None
            continue
        col = np.asarray(fields[name])
        if col.ndim == 0 or (key in ("arrival", "lifetime") and col.ndim != 1):
            raise TraceError(f"{path}: column {short(name)} must be 1-D, got shape {col.shape}")
        if n is None:
            n = len(col)
        elif len(col) != n:
            raise TraceError(f"{path}: column {short(name)} has {len(col)} rows, expected {n}")
        if key in ("arrival", "lifetime"):
            if col.dtype.kind not in "iuf":
                raise TraceError(f"{path}: column {short(name)} must be numeric, got dtype {col.dtype}")
            col = col.astype(np.float64)
            bad = ~np.isfinite(col) | (col < 0)
            if bad.any():
                r = int(np.flatnonzero(bad)[0])
                raise TraceError(f"{path} row {r}, column {short(name)}: {short(col[r])} is not a finite "
                                 "time >= 0")
            if key == "arrival":
                dec = np.flatnonzero(np.diff(col) < 0)
                if dec.size:
                    r = int(dec[0]) + 1
                    raise TraceError(f"{path} row {r}, column {short(name)}: {col[r]} is earlier than the "
                                     f"previous arrival {col[r - 1]} (arrivals must be non-decreasing)")
        else:
            from .addresses import key_array

            try:
                col = key_array(col)
            except (TypeError, ValueError) as exc:
                raise TraceError(f"{path}: column {short(name)}: {exc}") from None
        out[key] = col
    return out

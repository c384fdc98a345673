"""Arrival models: when the connections of a workload arrive.

Each model returns ``n`` non-decreasing arrival times, drawn with the
``numpy.random.Generator`` the :class:`~lbalgo.workloads.Workload` gives it:
:class:`poisson` (exponential gaps), :class:`constant_rate` (evenly spaced),
:class:`onoff` (bursts: an interrupted Poisson process) and
:class:`RecordedArrivals` (exactly the given times, as a recorded trace has
them). All are importable from :mod:`lbalgo.workloads`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import limits
from ._workload_checks import positive, real, time_array
from .errors import InvalidArgument, short

__all__ = ["ArrivalModel", "poisson", "constant_rate", "onoff", "RecordedArrivals"]


class ArrivalModel:
    """The base class of the arrival models: ``times(rng, n)`` says when the connections arrive."""

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Return ``n`` non-decreasing arrival times drawn with ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True)
class poisson(ArrivalModel):
    """Poisson arrivals: independent exponential gaps of mean ``1/rate``; the first at one gap."""

    rate: float

    def __post_init__(self) -> None:
        positive(self.rate, "rate")

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` arrival times: the running sum of exponential gaps."""
        return np.cumsum(rng.exponential(1.0 / self.rate, n))


@dataclass(frozen=True)
class constant_rate(ArrivalModel):
    """Deterministic arrivals every ``1/rate`` seconds, the first at ``start``."""

    rate: float
    start: float = 0.0

    def __post_init__(self) -> None:
        positive(self.rate, "rate")
        start = real(self.start, "start")
        if not math.isfinite(start) or start < 0:
            raise InvalidArgument(f"start must be a finite time >= 0, got {short(self.start)}")

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return ``n`` arrival times ``1/rate`` apart from ``start`` (``rng`` is not used)."""
        return self.start + np.arange(n, dtype=np.float64) / self.rate


@dataclass(frozen=True)
class onoff(ArrivalModel):
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
        positive(self.rate, "rate")
        positive(self.mean_on, "mean_on")
        positive(self.mean_off, "mean_off")

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
class RecordedArrivals(ArrivalModel):
    """Arrivals at exactly the given times, one per connection (non-decreasing, finite, >= 0)."""

    values: Any

    def __post_init__(self) -> None:
        a = time_array(self.values, "arrival times")
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

"""Duration models: how long each connection of a workload lasts, or the work it brings.

A duration is how long a connection is open (infinite-server model) or the
work it brings (FIFO and processor sharing: service time = work / speed).
``lognormal(mean, sigma)`` is parameterised by its arithmetic *mean* and the
standard deviation ``sigma`` of the underlying normal:
``mu = log(mean) - sigma**2 / 2``. ``pareto(alpha, mean)`` is the classic
Pareto with scale ``x_m = mean * (alpha - 1) / alpha`` (needs ``alpha > 1``).
:class:`RecordedDurations` holds exactly the given durations, as a recorded
trace has them. All are importable from :mod:`lbalgo.workloads`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._workload_checks import positive, real, time_array
from .errors import InvalidArgument, short

__all__ = ["DurationModel", "exponential", "lognormal", "pareto", "constant", "empirical",
           "RecordedDurations"]


class DurationModel:
    """The base class of the duration models: ``sample(rng, n)`` gives how long each connection lasts."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Return ``n`` durations (>= 0) drawn with ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True)
class exponential(DurationModel):
    """Exponential durations with the given mean."""

    mean: float

    def __post_init__(self) -> None:
        positive(self.mean, "mean")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` exponential durations."""
        return rng.exponential(self.mean, n)


@dataclass(frozen=True)
class lognormal(DurationModel):
    """Log-normal durations with arithmetic mean ``mean``; ``sigma`` of the underlying normal."""

    mean: float
    sigma: float

    def __post_init__(self) -> None:
        positive(self.mean, "mean")
        positive(self.sigma, "sigma")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` log-normal durations (``mu = log(mean) - sigma**2 / 2``)."""
        mu = math.log(self.mean) - self.sigma**2 / 2
        return rng.lognormal(mu, self.sigma, n)


@dataclass(frozen=True)
class pareto(DurationModel):
    """Pareto durations with shape ``alpha`` > 1 and the given mean (scale ``mean*(alpha-1)/alpha``)."""

    alpha: float
    mean: float

    def __post_init__(self) -> None:
        positive(self.mean, "mean")
        if positive(self.alpha, "alpha") <= 1:
            raise InvalidArgument(f"alpha must be > 1 for a finite mean, got {short(self.alpha)}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` Pareto durations: ``scale * (1 + Lomax(alpha))``."""
        scale = self.mean * (self.alpha - 1) / self.alpha
        return scale * (1.0 + rng.pareto(self.alpha, n))


@dataclass(frozen=True)
class constant(DurationModel):
    """Every duration equals ``value`` (>= 0)."""

    value: float

    def __post_init__(self) -> None:
        value = real(self.value, "value")
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"value must be finite and >= 0, got {short(self.value)}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return ``n`` copies of ``value`` (``rng`` is not used)."""
        return np.full(n, float(self.value))


@dataclass(frozen=True, eq=False)
class empirical(DurationModel):
    """Durations drawn with replacement, uniformly, from the given sample."""

    values: Any

    def __post_init__(self) -> None:
        a = time_array(self.values, "empirical values")
        if a.size == 0:
            raise InvalidArgument("empirical needs at least one value")
        object.__setattr__(self, "values", a)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` durations from the sample, uniformly with replacement."""
        return self.values[rng.integers(0, self.values.size, n)]


@dataclass(frozen=True, eq=False)
class RecordedDurations(DurationModel):
    """Exactly these durations, one per connection (a recorded trace's lifetimes)."""

    values: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", time_array(self.values, "durations"))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Return the recorded durations (``n`` must be their number; ``rng`` is not used)."""
        if n != len(self.values):
            raise InvalidArgument(f"given holds {len(self.values)} durations but n = {n}")
        return self.values

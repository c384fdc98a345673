"""``EnvoyBase``, the Python base of the Envoy balancers: options, state layout, host states.

It reads and validates the options every policy shares (``panic_threshold``,
``fail_traffic_on_panic``, a recorded ``random`` stream; slow start for the
EDF balancers), lays out a fresh or resized state, replaces the random
source (``inject_random``), excludes hosts and exposes the host set and the
panic flag. The host-set model itself, the state layout and the kernels every
balancer shares are in :mod:`~lbalgo.schedulers.envoy._hosts`, whose
docstring states the semantics.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from ... import _rng, _validate
from ..._table import EV_RESIZE, EV_UPDATE
from ..base import Scheduler
from ._hosts import (
    CAP,
    CLOCK,
    ENVOY_VERSION,
    FAIL_ON_PANIC,
    FHEADER,
    FORCE,
    HEADER,
    HOST_REGIONS,
    N_ALL,
    N_HEALTHY,
    PANIC,
    PANIC_THRESHOLD,
    R_ALL,
    R_EXCLUDED,
    R_HEALTHY,
    RNG_AT,
    RNG_LEN,
    RNG_MODE,
    RNG_POS,
)

FAMILY = f"Envoy {ENVOY_VERSION}"


# -- validation shared by the classes --------------------------------------------------------------
def percent(value: Any, what: str) -> int:
    """Return a percentage 0..100 as Envoy rounds it (``PROTOBUF_PERCENT_TO_ROUNDED_INTEGER``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number 0..100, got {value!r}")
    v = float(value)
    if not 0.0 <= v <= 100.0:
        raise ValueError(f"{what} must be in 0..100, got {value!r}")
    return int(math.floor(v + 0.5))


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def random_stream(values: Any) -> np.ndarray:
    """Return a recorded random stream (integers 0..2**64-1) as int64 bits, validated."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"random must be a sequence of integers 0..2**64-1, got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"random[{i}] must be an integer 0..2**64-1, got {v!r}")
        v = int(v)
        if not 0 <= v < 1 << 64:
            raise ValueError(f"random[{i}] = {v} is not a 64-bit unsigned value")
        out.append(v - (1 << 64) if v >= 1 << 63 else v)
    if not out:
        raise ValueError("random must hold at least one value (the last one repeats once it runs out)")
    return np.array(out, dtype=np.int64)


def slow_start_config(config: Any) -> tuple[float, float, float]:
    """``(window seconds, aggression, min weight share)`` from ``slow_start=`` (None: off)."""
    if config is None:
        return 0.0, 1.0, 0.1
    if not isinstance(config, dict):
        raise TypeError("slow_start must be a dict such as {'window': 60, 'aggression': 1.0, "
                        f"'min_weight_percent': 10}}, got {type(config).__name__}")
    unknown = set(config) - {"window", "aggression", "min_weight_percent"}
    if unknown:
        raise ValueError(f"slow_start: unknown key {sorted(unknown)[0]!r} "
                         "(known: window, aggression, min_weight_percent)")
    if "window" not in config:
        raise ValueError("slow_start needs 'window' (seconds, > 0)")
    window = config["window"]
    if isinstance(window, bool) or not isinstance(window, numbers.Real) or not 0 < float(window) < 1e9:
        raise ValueError(f"slow_start window must be a duration in seconds > 0, got {window!r}")
    aggression = config.get("aggression", 1.0)
    if isinstance(aggression, bool) or not isinstance(aggression, numbers.Real) \
            or not math.isfinite(float(aggression)) or float(aggression) <= 0:
        raise ValueError(f"slow_start aggression must be a number > 0, got {aggression!r}")
    minimum = config.get("min_weight_percent", 10)
    if isinstance(minimum, bool) or not isinstance(minimum, numbers.Real) or not 0 <= float(minimum) <= 100:
        raise ValueError(f"slow_start min_weight_percent must be in 0..100, got {minimum!r}")
    return float(window), float(aggression), float(minimum) / 100.0


class EnvoyBase(Scheduler):
    """Shared by the Envoy schedulers: host set, panic, exclusion, the random source, relayout.

    Subclasses set ``_int_regions`` / ``_float_regions`` (how many CAP-sized
    regions they use) and may add regions of their own after those
    (:meth:`_extra_layout`).
    """

    family = FAMILY
    insertion = "tail"
    randomized = True

    _int_regions = HOST_REGIONS
    _float_regions = 1
    #: ``(first region, regions)`` of each block of per-id or per-leaf values, copied whole on a resize.
    _int_blocks: tuple[tuple[int, int], ...] = tuple((k, 1) for k in range(HOST_REGIONS))
    _float_blocks: tuple[tuple[int, int], ...] = ((0, 1),)

    def __init__(self, weights=None, *, panic_threshold: float = 50, fail_traffic_on_panic: bool = False,
                 random: Sequence[int] | None = None, **options: Any) -> None:
        self.panic_threshold = percent(panic_threshold, "panic_threshold")
        self.fail_traffic_on_panic = flag(fail_traffic_on_panic, "fail_traffic_on_panic")
        self._random = None if random is None else random_stream(random)
        super().__init__(weights, **options)

    # -- layout -----------------------------------------------------------------------------------
    def _extra_int(self, capacity: int) -> int:
        """Values the subclass lays out after the CAP regions (before the random stream)."""
        return 0

    def _blank(self, capacity: int, stream_len: int) -> tuple[np.ndarray, np.ndarray]:
        size = HEADER + self._int_regions * capacity + self._extra_int(capacity) + stream_len
        state = np.zeros(size, dtype=np.int64)
        fstate = np.zeros(FHEADER + self._float_regions * capacity, dtype=np.float64)
        state[CAP] = capacity
        fstate[FHEADER: FHEADER + capacity] = np.nan  # F_PASS_TIME: not seen healthy yet
        return state, fstate

    def _configure(self, state: np.ndarray, fstate: np.ndarray) -> None:
        """Set the subclass's option fields (called on every fresh layout)."""
        state[PANIC_THRESHOLD] = self.panic_threshold
        state[FAIL_ON_PANIC] = self.fail_traffic_on_panic

    def _new_state(self) -> tuple[np.ndarray, np.ndarray]:
        capacity = self.pool.capacity
        stream = self._random
        state, fstate = self._blank(capacity, 0 if stream is None else len(stream))
        self._configure(state, fstate)
        if stream is None:
            state[0:4] = _rng.new_state(self.seed)
        else:
            state[RNG_MODE] = 1
            state[RNG_LEN] = len(stream)
            state[RNG_AT] = len(state) - len(stream)
            state[len(state) - len(stream):] = stream
        self._fill_new(state, fstate)
        state[FORCE] = 1
        self._changed.entry(self.pool.table, state, fstate, EV_RESIZE, 0)
        return state, fstate

    def _fill_new(self, state: np.ndarray, fstate: np.ndarray) -> None:
        """Fill per-id data of a fresh state (host keys of hash policies)."""

    def _resized_state(self, capacity: int) -> tuple[np.ndarray, np.ndarray]:
        old, fold = self.state, self.fstate
        cap = int(old[CAP])
        stream_len = int(old[RNG_LEN]) if old[RNG_MODE] else 0
        state, fstate = self._blank(capacity, stream_len)
        state[:HEADER] = old[:HEADER]
        state[CAP] = capacity
        fstate[:FHEADER] = fold[:FHEADER]
        for k, count in self._int_blocks:
            state[HEADER + k * capacity: HEADER + k * capacity + count * cap] = \
                old[HEADER + k * cap: HEADER + (k + count) * cap]
        for k, count in self._float_blocks:
            fstate[FHEADER + k * capacity: FHEADER + k * capacity + count * cap] = \
                fold[FHEADER + k * cap: FHEADER + (k + count) * cap]
        self._copy_extra(old, state, cap, capacity)
        if stream_len:
            state[RNG_AT] = len(state) - stream_len
            state[len(state) - stream_len:] = old[int(old[RNG_AT]): int(old[RNG_AT]) + stream_len]
        return state, fstate

    def _copy_extra(self, old: np.ndarray, new: np.ndarray, old_cap: int, new_cap: int) -> None:
        """Copy the subclass's own values into a larger layout."""

    # -- the random source -------------------------------------------------------------------------
    def inject_random(self, values: Sequence[int]) -> None:
        """Replace the random source by a recorded stream of 64-bit values (Envoy's mocked ``random()``).

        Draws take the values in order; once they run out the last one
        repeats. Use it between decisions to replay a test that sets new
        expectations (``EXPECT_CALL(random_, random()).WillOnce(...)``).
        """
        stream = random_stream(values)
        old = self.state
        keep = len(old) - (int(old[RNG_LEN]) if old[RNG_MODE] else 0)
        state = np.zeros(keep + len(stream), dtype=np.int64)
        state[:keep] = old[:keep]
        state[RNG_MODE] = 1
        state[RNG_POS] = 0
        state[RNG_LEN] = len(stream)
        state[RNG_AT] = keep
        state[keep:] = stream
        self.state = state

    # -- Envoy's host states -------------------------------------------------------------------------
    def exclude(self, backend: int, excluded: bool = True) -> None:
        """Exclude a backend from load balancing (or include it again with ``excluded=False``).

        Envoy excludes hosts draining in EDS or waiting for their first
        health check: they count in neither the healthy share nor the total
        of the panic threshold, and receive traffic only in panic.
        """
        b = self.pool.check_id(backend)
        flag(excluded, "excluded")
        self.state[HEADER + R_EXCLUDED * int(self.state[CAP]) + b] = 1 if excluded else 0
        self._changed.entry(self.pool.table, self.state, self.fstate, EV_UPDATE, 0)

    @property
    def excluded(self) -> np.ndarray:
        """True per backend id for the backends :meth:`exclude` set aside."""
        cap = int(self.state[CAP])
        return self.state[HEADER + R_EXCLUDED * cap: HEADER + R_EXCLUDED * cap + self.pool.n_ids] != 0

    def refresh(self, now: float | None = None) -> None:
        """Rebuild as Envoy does on a host-set update with nothing changed (its tests' ``runCallbacks``).

        ``now`` (seconds) moves the scheduler's clock first: slow start
        measures from it. Without it the clock stays at the latest decision.
        """
        if now is not None:
            t = _validate.time(now)
            self.fstate[CLOCK] = t
        self.state[FORCE] = 1
        self._changed.entry(self.pool.table, self.state, self.fstate, EV_UPDATE, 0)

    @property
    def in_panic(self) -> bool:
        """Whether the host set is in panic (below the panic threshold): every host is eligible."""
        return bool(self.state[PANIC])

    def _ids(self, region: int, count: int) -> list[int]:
        start = HEADER + region * int(self.state[CAP])
        return self.state[start: start + int(self.state[count])].tolist()

    @property
    def hosts(self) -> list[int]:
        """Backend ids of Envoy's ``hosts()``, in list order."""
        return self._ids(R_ALL, N_ALL)

    @property
    def healthy_hosts(self) -> list[int]:
        """Backend ids of Envoy's ``healthyHosts()``, in list order."""
        return self._ids(R_HEALTHY, N_HEALTHY)

    def _why_none(self) -> str:
        if self.state[PANIC] and self.state[FAIL_ON_PANIC]:
            return "the host set is in panic and fail_traffic_on_panic is set"
        if not self.state[N_ALL]:
            return "no backend has a weight > 0"
        return "no healthy backend and panic mode is off (panic_threshold 0)"

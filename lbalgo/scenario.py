"""Scenarios: what ``lbalgo compare`` runs, read from TOML and validated field by field.

A scenario names a pool (weights), a number of new connections, a client
population and a seed. The built-in default lives in
``lbalgo/scenarios/default.toml``::

    name = "default"
    seed = 20261127
    connections = 1_000_000
    [pool]
    weights = [8, 4, 4, 2, 2, 1, 1, 1]
    [clients]
    distribution = "zipf"      # or "uniform"
    count = 50_000
    exponent = 1.1             # zipf only
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import _validate

CLIENT_DISTRIBUTIONS = ("zipf", "uniform")


class ScenarioError(ValueError):
    """A scenario file or field is malformed; the message names the field."""


@dataclass(frozen=True)
class Scenario:
    """One comparison setting. See the module docstring for the file format."""

    weights: tuple[int, ...]
    connections: int = 1_000_000
    client_distribution: str = "zipf"
    client_count: int = 50_000
    client_exponent: float = 1.1
    seed: int = 0
    name: str = "custom"
    algorithms: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        try:
            w = _validate.weights(list(self.weights), "pool.weights")
        except (TypeError, ValueError) as e:
            raise ScenarioError(str(e)) from None
        if len(w) == 0 or not w.any():
            raise ScenarioError("pool.weights must contain at least one weight > 0")
        _check(self.connections, int, "connections", lambda v: v >= 1, ">= 1")
        if self.client_distribution not in CLIENT_DISTRIBUTIONS:
            raise ScenarioError(f"clients.distribution must be one of {CLIENT_DISTRIBUTIONS}, "
                                f"got {self.client_distribution!r}")
        _check(self.client_count, int, "clients.count", lambda v: 1 <= v <= 2**24, "in 1..16777216")
        _check(self.client_exponent, (int, float), "clients.exponent", lambda v: 0 < v <= 10, "in (0, 10]")
        _check(self.seed, int, "seed", lambda v: v >= 0, ">= 0")

    def client_keys(self) -> np.ndarray:
        """One client IPv4 address per connection (uint32), reproducible from ``seed``.

        Client ``k`` (rank 1 = heaviest under Zipf) is drawn with probability
        proportional to ``1 / k**exponent``; its address is a fixed
        pseudo-random IPv4 address derived from the seed.
        """
        rng = np.random.default_rng(self.seed)
        n = self.client_count
        if self.client_distribution == "zipf":
            p = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** self.client_exponent
            cdf = np.cumsum(p / p.sum())
            ranks = np.searchsorted(cdf, rng.random(self.connections), side="right")
            ranks = np.minimum(ranks, n - 1)
        else:
            ranks = rng.integers(0, n, size=self.connections)
        # Distinct addresses in 10.0.0.0/8 .. 11.255.255.255, scattered so that
        # heavy clients are not neighbours (hashing schedulers would notice).
        addresses = (0x0A000000 + rng.choice(2**25, size=n, replace=False)).astype(np.uint32)
        return addresses[ranks]


def _check(value: Any, types: Any, name: str, ok: Any, expect: str) -> None:
    if isinstance(value, bool) or not isinstance(value, types):
        raise ScenarioError(f"{name} must be a number {expect}, got {value!r}")
    if not ok(value):
        raise ScenarioError(f"{name} must be {expect}, got {value!r}")


def from_dict(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML, rejecting unknown keys."""
    known = {"name", "seed", "connections", "pool", "clients", "algorithms"}
    _no_unknown(data, known, "")
    pool = data.get("pool", {})
    clients = data.get("clients", {})
    if isinstance(pool, dict) and "endpointslices" in pool:  # a pool read from EndpointSlices (lbalgo.kube)
        pool = {"weights": _kube_weights(pool, source)}
    if not isinstance(pool, dict) or "weights" not in pool:
        raise ScenarioError(f"{source}: [pool] with weights = [...] is required")
    if not isinstance(clients, dict):
        raise ScenarioError(f"{source}: [clients] must be a table")
    _no_unknown(pool, {"weights"}, "pool.")
    _no_unknown(clients, {"distribution", "count", "exponent"}, "clients.")
    algorithms = data.get("algorithms", [])
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise ScenarioError(f"algorithms must be a list of scheduler names, got {algorithms!r}")
    if not isinstance(pool["weights"], list):
        raise ScenarioError(f"pool.weights must be a list of integers, got {pool['weights']!r}")
    return Scenario(
        weights=tuple(pool["weights"]),
        connections=data.get("connections", 1_000_000),
        client_distribution=clients.get("distribution", "zipf"),
        client_count=clients.get("count", 50_000),
        client_exponent=clients.get("exponent", 1.1),
        seed=data.get("seed", 0),
        name=str(data.get("name", source)),
        algorithms=tuple(algorithms),
    )


def _kube_weights(pool: dict[str, Any], source: str) -> list[int]:
    """``[pool] endpointslices = "file"``: one weight-1 backend per endpoint a node uses (``lbalgo.kube``)."""
    from .kube.service import scenario_weights  # only scenarios that ask for it import lbalgo.kube

    base = Path(source).parent if Path(source).is_file() else None
    try:
        return list(scenario_weights(pool, base))
    except (ValueError, TypeError, KeyError) as e:
        raise ScenarioError(f"{source}: [pool]: {e}") from None


def _no_unknown(table: dict[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(f"unknown field {prefix}{unknown[0]} (known: {', '.join(sorted(known))})")


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"cannot read scenario {p}: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: not valid TOML: {e}") from None
    return from_dict(data, str(p))


def default() -> Scenario:
    """The built-in default scenario shipped with lbalgo."""
    text = resources.files("lbalgo").joinpath("scenarios/default.toml").read_text(encoding="utf-8")
    return from_dict(tomllib.loads(text), "default")

"""Scenarios: what ``lbalgo compare`` runs, read from TOML and validated field by field.

A scenario is a pool, a workload (arrivals, connection lifetimes, client and
destination addresses), a service model, pool events, the algorithms to run
(with options) and a seed. Every field has a default except the pool's
weights. The built-in scenario is ``lbalgo/scenarios/default.toml``; the
schema, with every field, is in ``docs/scenarios.md``. In short::

    name = "mine"
    seed = 7
    connections = 1_000_000
    algorithms = ["rr", "wlc", { name = "wrr", incremental = true, label = "wrr-inc" }]

    [pool]
    weights = [4, 2, 1, 1]

    [arrivals]                   # poisson | constant | onoff
    model = "poisson"
    load = 0.8                   # or rate = 2000.0 (per second)

    [lifetimes]                  # exponential | lognormal | pareto | constant
    model = "lognormal"
    mean = 0.05
    sigma = 1.0

    [clients]                    # zipf | uniform
    model = "zipf"
    count = 50_000
    exponent = 1.1

    [service]                    # infinite | fifo | ps
    model = "fifo"
    servers = "weight"

    [[events]]
    at = "40%"                   # seconds, or a share of the arrival span
    action = "fail"              # add remove weight quiesce fail recover thresholds
    backend = 1

Errors are :class:`ScenarioError` and name the field and the bad value
(``arrivals.rate must be a number > 0, got -1``).
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from . import _readers, _validate, limits
from .errors import LbalgoError, short

__all__ = ["Scenario", "Model", "Event", "AlgorithmSpec", "ScenarioError", "load", "default", "from_dict",
           "parse_model", "ARRIVALS", "LIFETIMES", "POPULATIONS", "SERVICES", "ACTIONS"]


class ScenarioError(LbalgoError, ValueError):
    """A scenario file or field is malformed; the message names the file (when there is one) and the field."""


# -- the models a scenario can name -------------------------------------------------
# model -> (required parameters, optional parameters with defaults); positional
# order is the order of the "model:a:b" shorthand of the command line.
ARRIVALS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "poisson": (("rate",), {}),
    "constant": (("rate",), {}),
    "onoff": (("rate", "mean_on", "mean_off"), {}),
}
LIFETIMES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "exponential": (("mean",), {}),
    "lognormal": (("mean", "sigma"), {}),
    "pareto": (("alpha", "mean"), {}),
    "constant": (("value",), {}),
}
POPULATIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "zipf": (("count",), {"exponent": 1.0, "network": "10.0.0.0/8"}),
    "uniform": (("count",), {"network": "10.0.0.0/8"}),
}
#: Where a section's defaults differ from the model's (clients are Zipf 1.1 by default,
#: destinations live in 172.16.0.0/12, apart from the clients).
SECTION_DEFAULTS: dict[str, dict[str, Any]] = {"clients": {"exponent": 1.1},
                                               "destinations": {"network": "172.16.0.0/12"}}
SERVICES = ("infinite", "fifo", "ps")
LIFECYCLES = ("simple", "tcp")
#: Pool-event actions and the fields each needs besides ``at``.
ACTIONS: dict[str, tuple[str, ...]] = {
    "add": ("weight",), "remove": ("backend",), "weight": ("backend", "weight"),
    "quiesce": ("backend",), "fail": ("backend",), "recover": ("backend",),
    "thresholds": ("backend", "upper", "lower"),
}


#: Class names in lbalgo.workloads (lifetime models share their names) and lbalgo.sim.events.
_ARRIVAL_CLASSES = {"poisson": "poisson", "constant": "constant_rate", "onoff": "onoff"}
_EVENT_CLASSES = {"add": "Add", "remove": "Remove", "weight": "SetWeight", "quiesce": "Quiesce", "fail": "Fail",
                  "recover": "Recover", "thresholds": "SetThresholds"}


@dataclass(frozen=True)
class Model:
    """One named model with its parameters, e.g. ``Model("lognormal", (("mean", 2.0), ("sigma", 1.0)))``."""

    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, name: str) -> Any:
        return dict(self.params)[name]

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """``{"model": kind, **params}``, as in the TOML file."""
        return {"model": self.kind, **dict(self.params)}

    def __str__(self) -> str:
        return ":".join([self.kind] + [_fmt(v) for _, v in self.params])


@dataclass(frozen=True)
class Event:
    """A pool event: at ``at`` seconds (or ``at_share`` of the arrival span), do ``action``."""

    action: str
    at: float | None = None
    at_share: float | None = None
    backend: int | None = None
    weight: int | None = None
    upper: int = 0
    lower: int = 0

    def time(self, span: float) -> float:
        """The event time in seconds, given the expected arrival span."""
        return float(self.at) if self.at is not None else float(self.at_share) * span

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at if self.at is not None else f"{_fmt(100 * self.at_share)}%",
                               "action": self.action}
        for name in ACTIONS[self.action]:
            out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class AlgorithmSpec:
    """A registered scheduler name, the label reports show, constructor options and an optional seed."""

    name: str
    label: str = ""
    options: tuple[tuple[str, Any], ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.label:
            label = self.name + ("(" + ",".join(f"{k}={_fmt(v)}" for k, v in self.options) + ")"
                                 if self.options else "")
            object.__setattr__(self, "label", label)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, **dict(self.options)}
        if self.seed is not None:
            out["seed"] = self.seed
        return out


#: Models already validated (Scenario checks each model it is given once; replace() re-validates often).
_CHECKED_MODELS: set[tuple[Any, str, bool]] = set()

DEFAULT_ARRIVALS = Model("poisson", (("rate", 2000.0),))
DEFAULT_LIFETIMES = Model("exponential", (("mean", 1.0),))
DEFAULT_CLIENTS = Model("zipf", (("count", 50_000), ("exponent", 1.1), ("network", "10.0.0.0/8")))
DEFAULT_DESTINATIONS = Model("zipf", (("count", 10_000), ("exponent", 1.0), ("network", "172.16.0.0/12")))


@dataclass(frozen=True)
class Service:
    """How backends serve connections (:func:`lbalgo.simulate`'s ``service`` and friends)."""

    model: str = "infinite"
    servers: Any = 1  # int, "weight" or a tuple per backend (FIFO)
    speeds: Any = 1.0  # float, "weight" or a tuple per backend (FIFO, PS)
    lifecycle: str = "simple"
    establish: float = 0.0
    linger: float = 120.0
    samples: int = 200  # counter samples over the run (for the active-connections plot)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "servers": _listy(self.servers), "speeds": _listy(self.speeds),
                "lifecycle": self.lifecycle, "establish": self.establish, "linger": self.linger,
                "samples": self.samples}


@dataclass(frozen=True)
class Scenario:
    """One comparison setting; see the module docstring and ``docs/scenarios.md``.

    Construct from TOML with :func:`load` / :func:`from_dict`, or directly;
    :func:`dataclasses.replace` re-validates (the command line uses it for
    ``--weights``, ``--connections`` and friends).
    """

    weights: tuple[int, ...]
    connections: int = 1_000_000
    seed: int = 0
    name: str = "custom"
    arrivals: Model = DEFAULT_ARRIVALS
    load: float | None = None  # when set, the arrival rate is load * capacity / mean lifetime
    lifetimes: Model = DEFAULT_LIFETIMES
    clients: Model = DEFAULT_CLIENTS
    destinations: Model = DEFAULT_DESTINATIONS
    service: Service = field(default_factory=Service)
    events: tuple[Event, ...] = ()
    algorithms: tuple[AlgorithmSpec, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.weights, (tuple, list)):
            raise ScenarioError(f"pool.weights must be a list of integers, got {short(self.weights)}")
        if not isinstance(self.events, (tuple, list)) or not all(isinstance(e, Event) for e in self.events):
            raise ScenarioError(f"events must be a sequence of scenario.Event, got {short(self.events)}")
        added = sum(1 for e in self.events if e.action == "add")
        backends = f"pool.weights: {len(self.weights):,} backends"
        if added:
            backends += f" and {added:,} added by events"
        limits.check("MAX_BACKENDS", len(self.weights) + added, backends, ScenarioError)
        try:
            w = _validate.weights(list(self.weights), "pool.weights")
        except (TypeError, ValueError) as e:
            raise ScenarioError(str(e)) from None
        if len(w) == 0 or not w.any():
            raise ScenarioError("pool.weights must contain at least one weight > 0")
        _integer(self.connections, "connections", 1, limits.get("MAX_CONNECTIONS"), "MAX_CONNECTIONS")
        if not isinstance(self.service, Service):
            raise ScenarioError(f"service must be a scenario.Service, got {short(self.service)}")
        if not isinstance(self.algorithms, (tuple, list)) or not all(isinstance(a, AlgorithmSpec)
                                                                     for a in self.algorithms):
            raise ScenarioError("algorithms must be a sequence of scenario.AlgorithmSpec, got "
                                f"{short(self.algorithms)}")
        for section, models, model in (("arrivals", ARRIVALS, self.arrivals),
                                       ("lifetimes", LIFETIMES, self.lifetimes),
                                       ("clients", POPULATIONS, self.clients),
                                       ("destinations", POPULATIONS, self.destinations)):
            if not isinstance(model, Model):
                raise ScenarioError(f"{section} must be a scenario.Model, got {short(model)}")
            key = (model, section, self.load is not None)
            try:
                checked = key in _CHECKED_MODELS
            except TypeError:  # a parameter that cannot be hashed (a list): not a valid model anyway
                checked = False
            if not checked:  # models built by hand are checked as the file's are
                table = model.to_dict()
                if section == "arrivals" and self.load is not None:
                    table["load"] = self.load
                _model(table, section, models, extra=("load",) if section == "arrivals" else ())
                if section in ("clients", "destinations"):
                    _check_population(model, section)
                if len(_CHECKED_MODELS) < 256:
                    _CHECKED_MODELS.add(key)
        _integer(self.seed, "seed", 0, 2**63 - 1)
        if self.load is not None:
            _number(self.load, "arrivals.load", low=0.0, high=None)
            if self.service.model == "infinite":
                raise ScenarioError("arrivals.load needs a queued service model (service.model = 'fifo' "
                                    "or 'ps'); with the infinite server give arrivals.rate")
            if self.mean_lifetime <= 0:
                raise ScenarioError("arrivals.load needs lifetimes with a mean > 0 (the work each connection "
                                    "brings); give arrivals.rate instead")
        _check_service(self.service, len(w), added)
        if self.service.lifecycle == "tcp" and self.service.model != "infinite":
            raise ScenarioError("service.lifecycle = 'tcp' is modelled with service.model = 'infinite' only")
        for label in _duplicates([a.label for a in self.algorithms]):
            raise ScenarioError(f"algorithms: the label {short(label)} is used twice (give each a distinct "
                                "label)")
        self._check_rates()

    def _check_rates(self) -> None:
        """The arrival rate and span must be usable numbers.

        (On/off periods too many to draw are refused by the workload, before it
        draws anything: ``lbalgo.limits.MAX_ONOFF_PERIODS``.)
        """
        rate = self.rate
        if not (math.isfinite(rate) and rate > 0):
            how = ("load x capacity / mean lifetime" if self.load is not None else
                   "rate x mean_on / (mean_on + mean_off)" if self.arrivals.kind == "onoff" else "rate")
            raise ScenarioError(f"arrivals: the long-run arrival rate ({how}) is {rate!r}, which cannot be "
                                "simulated: it must be a finite number > 0")
        span = self.span
        if not math.isfinite(span):
            raise ScenarioError(f"arrivals: {self.connections:,} connections at {rate!r} per second would "
                                "arrive over an infinite time; raise the rate")

    # -- derived quantities -------------------------------------------------------------
    @property
    def mean_lifetime(self) -> float:
        """Mean of the lifetime model (seconds, or work at speed 1)."""
        m = self.lifetimes
        return float(m["value"] if m.kind == "constant" else m["mean"])

    def capacity(self) -> float:
        """Work the pool serves per second (queued models): sum of servers × speed per backend."""
        n = len(self.weights)
        servers = _per_backend(self.service.servers, self.weights, n)
        speeds = _per_backend(self.service.speeds, self.weights, n)
        if self.service.model == "ps":
            servers = [1.0] * n
        return float(sum(s * v for s, v, w in zip(servers, speeds, self.weights)))

    @property
    def rate(self) -> float:
        """Long-run arrivals per second (from ``load`` when given)."""
        if self.load is not None:
            return self.load * self.capacity() / self.mean_lifetime
        a = self.arrivals
        if a.kind == "onoff":
            return a["rate"] * a["mean_on"] / (a["mean_on"] + a["mean_off"])
        return float(a["rate"])

    @property
    def span(self) -> float:
        """Expected time of the last arrival (``connections / rate``): what ``at = "40%"`` refers to."""
        return self.connections / self.rate

    def arrivals_with_rate(self) -> Model:
        """The arrival model with its ``rate`` spelled out (derived from ``load`` when that is given).

        For ``onoff`` the rate is the rate while on, so that the long-run rate is :attr:`rate`.
        """
        a = self.arrivals
        if self.load is None:
            return a
        rate = self.rate
        if a.kind == "onoff":
            rate = rate * (a["mean_on"] + a["mean_off"]) / a["mean_on"]
        return Model(a.kind, (("rate", rate),) + tuple((k, v) for k, v in a.params if k != "rate"))

    def workload(self) -> Any:
        """The :class:`lbalgo.workloads.Workload` of this scenario (seeded by :attr:`seed`)."""
        from . import workloads

        # The models' required parameters are in the order their workloads classes take them.
        a, life = self.arrivals_with_rate(), self.lifetimes
        arrivals = getattr(workloads, _ARRIVAL_CLASSES[a.kind])(*(a[p] for p in ARRIVALS[a.kind][0]))
        lifetimes = getattr(workloads, life.kind)(*(life[p] for p in LIFETIMES[life.kind][0]))
        return workloads.Workload(arrivals=arrivals, n=self.connections, lifetimes=lifetimes,
                                  clients=_population(self.clients), destinations=_population(self.destinations),
                                  seed=self.seed)

    def sim_events(self) -> list[Any]:
        """The pool events as :mod:`lbalgo.sim.events` objects, in seconds."""
        from .sim import events as ev

        # ACTIONS lists each action's fields in the order the event classes take them after the time.
        span = self.span
        return [getattr(ev, _EVENT_CLASSES[e.action])(e.time(span), *(getattr(e, f) for f in ACTIONS[e.action]))
                for e in self.events]

    def describe(self) -> str:
        """One line: connections, arrivals, lifetimes, clients, service."""
        svc = self.service.model + (f" ({self.service.lifecycle} life cycle)" if self.service.lifecycle != "simple"
                                    else "")
        load = f", load {_fmt(self.load)}" if self.load is not None else ""
        return (f"{self.connections:,} connections, {self.arrivals.kind} arrivals at {self.rate:,.1f}/s{load}, "
                f"{self.lifetimes} lifetimes, {self.clients.kind} clients ({self.clients['count']:,}), "
                f"service {svc}, {len(self.events)} pool event{'s' if len(self.events) != 1 else ''}, "
                f"seed {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        """The whole scenario as plain data (the TOML fields, defaults filled in)."""
        arrivals = self.arrivals.to_dict()
        if self.load is not None:
            arrivals.pop("rate", None)
            arrivals["load"] = self.load
        return {"name": self.name, "seed": self.seed, "connections": self.connections,
                "pool": {"weights": list(self.weights)}, "arrivals": arrivals,
                "lifetimes": self.lifetimes.to_dict(), "clients": self.clients.to_dict(),
                "destinations": self.destinations.to_dict(), "service": self.service.to_dict(),
                "events": [e.to_dict() for e in self.events],
                "algorithms": [a.to_dict() for a in self.algorithms]}

    def with_algorithms(self, names: list[Any]) -> "Scenario":
        """A copy running these algorithms: registered names, or tables as in the file's ``algorithms``."""
        return replace(self, algorithms=tuple(_algorithm(n, f"algorithms[{i}]", self.weights)
                                              for i, n in enumerate(names)))


# -- field checks ----------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v)) if not isinstance(v, bool) else str(v)
    return str(v)


def _listy(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _duplicates(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if x in seen or seen.add(x)]  # type: ignore[func-returns-value]


def _integer(value: Any, name: str, low: int, high: int, limit: str | None = None) -> int:
    """A whole number in low..high; above ``high`` a :class:`~lbalgo.errors.LimitExceeded` when it is "
    "``limit``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScenarioError(f"{name} must be a whole number in {low}..{high}, got {short(value)}")
    if limit is not None and int(value) > high:
        limits.check(limit, int(value), f"{name} = {short(value)}", ScenarioError)
    if not low <= int(value) <= high:
        raise ScenarioError(f"{name} must be in {low}..{high}, got {short(value)}")
    return int(value)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):  # an integer too large for a float
        return False


def _number(value: Any, name: str, low: float = 0.0, high: float | None = None, *, inclusive: bool = False) -> float:
    """A finite real number > low (>= low when ``inclusive``), <= high when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value):
        raise ScenarioError(f"{name} must be a finite number, got {short(value)}")
    v = float(value)
    if (v < low) if inclusive else (v <= low):
        raise ScenarioError(f"{name} must be a number {'>=' if inclusive else '>'} {_fmt(low)}, got "
                            f"{short(value)}")
    if high is not None and v > high:
        raise ScenarioError(f"{name} must be <= {_fmt(high)}, got {short(value)}")
    return v


def _per_backend(value: Any, weights: tuple[int, ...], n: int) -> list[float]:
    if value == "weight":
        return [max(1.0, float(w)) for w in weights]
    if isinstance(value, tuple):
        return [float(v) for v in value[:n]]
    return [float(value)] * n


def _check_service(s: Service, n: int, added: int = 0) -> None:
    if not isinstance(s.model, str) or s.model not in SERVICES:
        raise ScenarioError(f"service.model must be one of {', '.join(SERVICES)}, got {short(s.model)}")
    if not isinstance(s.lifecycle, str) or s.lifecycle not in LIFECYCLES:
        raise ScenarioError(f"service.lifecycle must be one of {', '.join(LIFECYCLES)}, got "
                            f"{short(s.lifecycle)}")
    for name, value, whole in (("servers", s.servers, True), ("speeds", s.speeds, False)):
        if value == "weight":
            continue
        values = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and len(value) != n + added:
            more = f", counting the {added} added by events" if added else ""
            raise ScenarioError(f"service.{name} must have one entry per backend ({n + added}{more}), "
                                f"got {len(value)}")
        for i, v in enumerate(values):
            where = f"service.{name}" + (f"[{i}]" if isinstance(value, tuple) else "")
            if whole:
                _integer(v, where, 1, 10**6)
            else:
                _number(v, where)
    if not (isinstance(s.establish, float) and s.establish == math.inf):  # inf models UDP
        _number(s.establish, "service.establish", 0.0, inclusive=True)
    _number(s.linger, "service.linger", 0.0, inclusive=True)
    _integer(s.samples, "service.samples", 2, 100_000)


# -- parsing -----------------------------------------------------------------------------
def _model(table: Any, section: str, models: dict[str, tuple[tuple[str, ...], dict[str, Any]]],
           extra: tuple[str, ...] = ()) -> tuple[Model, dict[str, Any]]:
    """Parse ``[section]`` (``model = ...`` plus parameters); return the model and the ``extra`` fields."""
    if not isinstance(table, dict):
        raise ScenarioError(f"[{section}] must be a table, got {short(table)}")
    if "model" not in table:
        raise ScenarioError(f"{section}.model is required: one of {', '.join(models)}")
    kind = table["model"]
    if not isinstance(kind, str) or kind not in models:
        raise ScenarioError(f"{section}.model must be one of {', '.join(models)}, got {short(kind)}")
    required, optional = models[kind]
    known = {"model", *required, *optional, *extra}
    _no_unknown(table, known, f"{section}.", f" for model {short(kind)}")
    params: list[tuple[str, Any]] = []
    for name in required:
        if name not in table:
            if name == "rate" and "load" in extra:
                if "load" in table:
                    continue
                raise ScenarioError(_RATE_OR_LOAD)
            raise ScenarioError(f"{section}.{name} is required for model {short(kind)}")
        params.append((name, _param(table[name], f"{section}.{name}", name)))
    for name, default in optional.items():
        default = SECTION_DEFAULTS.get(section, {}).get(name, default)
        params.append((name, _param(table.get(name, default), f"{section}.{name}", name)))
    return Model(kind, tuple(params)), {k: table[k] for k in extra if k in table}


def _param(value: Any, where: str, name: str) -> Any:
    if name == "count":
        return _integer(value, where, 1, limits.get("MAX_CLIENTS"), "MAX_CLIENTS")
    if name == "network":
        import ipaddress

        if not isinstance(value, str):
            raise ScenarioError(f"{where} must be a network such as '10.0.0.0/8', got {short(value)}")
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ScenarioError(f"{where} must be a network such as '10.0.0.0/8', "
                                f"got {short(value)}") from None
        return value
    if name == "exponent":
        return _number(value, where, 0.0, 10.0, inclusive=True)
    if name == "value":
        return _number(value, where, 0.0, inclusive=True)
    if name == "alpha":
        return _number(value, where, 1.0)
    return _number(value, where)


def _population(m: Model) -> Any:
    from . import workloads

    if m.kind == "zipf":
        return workloads.zipf(m["count"], m["exponent"], network=m["network"])
    return workloads.uniform(m["count"], network=m["network"])


def _check_population(m: Model, section: str) -> None:
    try:
        _population(m)
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"{section}: {e}") from None


def _service(table: Any) -> Service:
    if not isinstance(table, dict):
        raise ScenarioError(f"[service] must be a table, got {short(table)}")
    known = {"model", "servers", "speeds", "lifecycle", "establish", "linger", "samples"}
    _no_unknown(table, known, "service.")
    kw = dict(table)
    for name in ("servers", "speeds"):
        if isinstance(kw.get(name), list):
            kw[name] = tuple(kw[name])
        elif isinstance(kw.get(name), str) and kw[name] != "weight":
            raise ScenarioError(f"service.{name} must be a number, a list or \"weight\", got "
                                f"{short(kw[name])}")
    if isinstance(kw.get("establish"), str) and kw["establish"] == "inf":
        kw["establish"] = math.inf  # UDP: never established
    return Service(**kw)


def _event(table: Any, i: int) -> Event:
    where = f"events[{i}]"
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table ([[events]]), got {short(table)}")
    action = table.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ScenarioError(f"{where}.action must be one of {', '.join(ACTIONS)}, got {short(action)}")
    needed = ACTIONS[action]
    _no_unknown(table, {"at", "action", *needed}, f"{where}.", f" for action {short(action)}")
    if "at" not in table:
        raise ScenarioError(f"{where}.at is required (seconds, or a share of the arrival span such as \"40%\")")
    at, at_share = table["at"], None
    if isinstance(at, str):
        text = at.strip()
        try:
            share = float(text[:-1]) / 100 if text.endswith("%") else math.nan
        except ValueError:
            share = math.nan
        if not (0 <= share <= 10):
            raise ScenarioError(f"{where}.at must be seconds >= 0 or a percentage such as \"40%\", got "
                                f"{short(at)}")
        at, at_share = None, share
    else:
        at = _number(at, f"{where}.at", 0.0, inclusive=True)
    kw: dict[str, Any] = {}
    for name in needed:
        if name not in table and name not in ("upper", "lower"):
            raise ScenarioError(f"{where}.{name} is required for action {short(action)}")
        value = table.get(name, 0)
        try:
            if name == "weight":
                value = _validate.weight(value, f"{where}.weight")
            else:
                value = _integer(value, f"{where}.{name}", 0, 2**31 - 1)
        except (TypeError, ValueError) as e:
            raise ScenarioError(str(e)) from None
        kw[name] = value
    return Event(action=action, at=at, at_share=at_share, **kw)


def _algorithm(item: Any, where: str, weights: Any = (1, 1)) -> AlgorithmSpec:
    from .schedulers.registry import SCHEDULERS, get

    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise ScenarioError(f"{where} must be a scheduler name or a table with name = ..., got {short(item)}")
    name = item.get("name")
    if not isinstance(name, str):
        raise ScenarioError(f"{where}.name must be a scheduler name, got {short(name)}")
    try:
        cls = get(name)
    except KeyError:
        raise ScenarioError(f"{where}.name: unknown algorithm {short(name)} (known: "
                            f"{', '.join(SCHEDULERS)})") from None
    label = item.get("label", "")
    if not isinstance(label, str):
        raise ScenarioError(f"{where}.label must be a string, got {short(label)}")
    seed = item.get("seed")
    if seed is not None:
        _integer(seed, f"{where}.seed", 0, 2**63 - 1)
    options = tuple(sorted((k, v) for k, v in item.items() if k not in ("name", "label", "seed")))
    try:  # options are constructor keywords: try them once on the pool, so a typo fails here, not mid-run
        cls(weights=list(weights), **dict(options))
    except TypeError as e:
        message = str(e)
        if "unexpected keyword argument" in message:
            message = f"unknown option {message.rsplit(' ', 1)[-1]} (see help(lbalgo.{cls.__name__}))"
        raise ScenarioError(f"{where} ({cls.name}): {message}") from None
    except ValueError as e:
        raise ScenarioError(f"{where} ({cls.name}): {e}") from None
    return AlgorithmSpec(cls.name, label, options, seed)


def _no_unknown(table: dict[str, Any], known: set[str], prefix: str, suffix: str = "") -> None:
    unknown = sorted((k for k in table if k not in known), key=str)
    if unknown:
        name = unknown[0] if isinstance(unknown[0], str) and len(unknown[0]) <= 60 else short(unknown[0])
        raise ScenarioError(f"unknown field {prefix}{name}{suffix} (known: {', '.join(sorted(known))})")


_RATE_OR_LOAD = ("arrivals: give exactly one of rate (per second) and load "
                 "(offered load, a share of the pool's capacity)")
TOP_LEVEL = {"name", "seed", "connections", "pool", "arrivals", "lifetimes", "clients", "destinations",
             "service", "events", "algorithms"}


def from_dict(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML or JSON, rejecting unknown keys and bad values."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: a scenario must be a table (TOML) or an object (JSON), "
                            f"got {type(data).__name__}")
    _readers.check_nesting(dict(data), source, ScenarioError)
    data = dict(data)
    _no_unknown(data, TOP_LEVEL, "")
    pool = data.get("pool", {})
    if isinstance(pool, dict) and "endpointslices" in pool:  # a pool read from EndpointSlices (lbalgo.kube)
        pool = {"weights": _kube_weights(pool, source)}
    if not isinstance(pool, dict) or "weights" not in pool:
        raise ScenarioError(f"{source}: [pool] with weights = [...] is required")
    _no_unknown(pool, {"weights"}, "pool.")
    if not isinstance(pool["weights"], list):
        raise ScenarioError(f"pool.weights must be a list of integers, got {short(pool['weights'])}")
    kw: dict[str, Any] = {"weights": tuple(pool["weights"])}
    if "name" in data:
        kw["name"] = str(data["name"])
    else:
        kw["name"] = Path(source).stem if source != "scenario" else "custom"
    for name in ("connections", "seed"):
        if name in data:
            kw[name] = data[name]
    if "service" in data:
        kw["service"] = _service(data["service"])
    if "arrivals" in data:
        kw["arrivals"], extra = _model(data["arrivals"], "arrivals", ARRIVALS, extra=("load",))
        if ("load" in extra) == ("rate" in dict(kw["arrivals"].params)):
            raise ScenarioError(_RATE_OR_LOAD)
        if "load" in extra:
            kw["load"] = extra["load"]
            if not isinstance(kw["load"], (int, float)) or isinstance(kw["load"], bool):
                raise ScenarioError(f"arrivals.load must be a number > 0, got {short(kw['load'])}")
    if "lifetimes" in data:
        kw["lifetimes"], _ = _model(data["lifetimes"], "lifetimes", LIFETIMES)
    for section in ("clients", "destinations"):
        if section in data:
            kw[section], _ = _model(data[section], section, POPULATIONS)
            _check_population(kw[section], section)
    events = data.get("events", [])
    if not isinstance(events, list):
        raise ScenarioError(f"events must be a list of tables ([[events]]), got {short(events)}")
    kw["events"] = tuple(_event(e, i) for i, e in enumerate(events))
    algorithms = data.get("algorithms", [])
    if not isinstance(algorithms, list):
        raise ScenarioError(f"algorithms must be a list of names or tables, got {short(algorithms)}")
    kw["algorithms"] = tuple(_algorithm(a, f"algorithms[{i}]", kw["weights"]) for i, a in enumerate(algorithms))
    return Scenario(**kw)


def parse_model(text: str, section: str, *, with_load: bool = False) -> Model:
    """Parse the command line's ``model:a:b`` shorthand, e.g. ``zipf:50000:1.1`` or ``lognormal:2:1``.

    ``section`` is ``"arrivals"``, ``"lifetimes"``, ``"clients"`` or
    ``"destinations"``; positional values fill the model's parameters in the
    order of the schema (``docs/scenarios.md``).
    """
    sections = {"arrivals": ARRIVALS, "lifetimes": LIFETIMES, "clients": POPULATIONS,
                "destinations": POPULATIONS}
    if section not in sections:
        raise ScenarioError(f"section must be one of {', '.join(sections)}, got {short(section)}")
    if not isinstance(text, str):
        raise ScenarioError(f"{section}: a model must be text such as 'poisson:2000', got {short(text)}")
    models = sections[section]
    kind = text.split(":", 1)[0]
    if kind not in models:
        raise ScenarioError(f"{section}: model must be one of {', '.join(models)}, got {short(kind)} in "
                            f"{short(text)}")
    required, optional = models[kind]
    order = list(required) + list(optional)
    if with_load and "rate" in order:  # the rate comes from --load: onoff:MEAN_ON:MEAN_OFF
        required = tuple(n for n in required if n != "rate")
        order.remove("rate")
    values = text.split(":", len(order))[1:]  # the last value keeps its colons (an IPv6 network)
    if not len(required) <= len(values) <= len(order):
        raise ScenarioError(f"{section}: {kind} takes {':'.join([kind] + order)} "
                            f"({len(required)} to {len(order)} values{', the rate comes from --load' if with_load else ''}"
                            f"), got {short(text)}")
    table: dict[str, Any] = {"model": kind}
    for name, raw in zip(order, values):
        if name == "network":
            table[name] = raw
            continue
        try:
            number = float(raw)
        except ValueError:
            raise ScenarioError(f"{section}.{name} must be a number, "
                                f"got {short(raw)} in {short(text)}") from None
        table[name] = int(number) if name == "count" and number.is_integer() else number
    if with_load and section == "arrivals":
        table["load"] = 1.0  # a placeholder that satisfies "rate or load"; the caller sets the real load
    model, _ = _model(table, section, models, extra=("load",) if section == "arrivals" else ())
    if section in ("clients", "destinations"):
        _check_population(model, section)
    return model


def _kube_weights(pool: dict[str, Any], source: str) -> list[int]:
    """``[pool] endpointslices = "file"``: one weight-1 backend per endpoint a node uses (``lbalgo.kube``)."""
    from .kube.service import scenario_weights  # only scenarios that ask for it import lbalgo.kube

    base = Path(source).parent if Path(source).is_file() else None
    try:
        return list(scenario_weights(pool, base))
    except (ValueError, TypeError, KeyError) as e:
        raise ScenarioError(f"{source}: [pool]: {e}") from None


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file: TOML, or JSON for a ``.json`` file.

    A JSON file may also be a whole JSON report of ``lbalgo compare``: its ``scenario`` is read.

    Raises
    ------
    ScenarioError
        One line naming the file and the field: the file cannot be read, is
        larger than ``lbalgo.limits.MAX_SCENARIO_BYTES``, is not UTF-8, does
        not parse, nests deeper than ``lbalgo.limits.MAX_NESTING``, or has a
        bad field.
    """
    p = Path(path)
    data = _readers.read_file(p, "MAX_SCENARIO_BYTES", ScenarioError, what=f"scenario {p}")
    text = _readers.decode(data, str(p), ScenarioError)
    if p.suffix.lower() == ".json":
        parsed = _readers.parse_json(text, str(p), ScenarioError)
        if isinstance(parsed, dict) and isinstance(parsed.get("scenario"), dict) and "results" in parsed:
            parsed = parsed["scenario"]  # a whole JSON report: its scenario
    else:
        parsed = _readers.parse_toml(text, str(p), ScenarioError)
    try:
        return from_dict(parsed, str(p))
    except ScenarioError as e:
        message = str(e)
        if message.startswith(str(p)):
            raise
        raise type(e)(f"{p}: {message}") from None


def default() -> Scenario:
    """The built-in default scenario shipped with lbalgo (``lbalgo/scenarios/default.toml``)."""
    text = resources.files("lbalgo").joinpath("scenarios/default.toml").read_text(encoding="utf-8")
    return from_dict(tomllib.loads(text), "default")

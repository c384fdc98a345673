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

This module is the model: the dataclasses, which check themselves, and
:func:`default`. :mod:`lbalgo.scenario_schema` lists what a scenario may
name and checks one field at a time; :mod:`lbalgo.scenario_file` reads
TOML and JSON (:func:`load` and :func:`from_dict`, importable from here too).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from . import _validate, limits
from . import scenario_schema as schema
from .errors import short
from .scenario_schema import (
    ACTIONS,
    ARRIVALS,
    LIFECYCLES,
    LIFETIMES,
    POPULATIONS,
    SECTION_DEFAULTS,
    SERVICE_MODELS,
    ScenarioError,
)

__all__ = ["Scenario", "Model", "Event", "AlgorithmSpec", "ServiceModel", "ScenarioError", "default",
           "model_from_table", "ARRIVALS", "LIFETIMES", "POPULATIONS", "SERVICE_MODELS", "ACTIONS",
           "LIFECYCLES", "SECTION_DEFAULTS"]
__all__ += ["load", "from_dict", "parse_model"]  # noqa: F822 - defined elsewhere, loaded by __getattr__


#: Class names in lbalgo.workloads (lifetime models share their names) and lbalgo.sim.events.
_ARRIVAL_CLASSES = {"poisson": "poisson", "constant": "constant_rate", "onoff": "onoff"}
_EVENT_CLASSES = {"add": "Add", "remove": "Remove", "weight": "SetWeight", "quiesce": "Quiesce",
                  "fail": "Fail", "recover": "Recover", "thresholds": "SetThresholds"}
#: The models of each section that names one.
_SECTION_MODELS = {"arrivals": ARRIVALS, "lifetimes": LIFETIMES, "clients": POPULATIONS,
                   "destinations": POPULATIONS}


@dataclass(frozen=True)
class Model:
    """One named model with its parameters, e.g. ``Model("lognormal", (("mean", 2.0), ("sigma", 1.0)))``."""

    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, name: str) -> Any:
        return dict(self.params)[name]

    def get(self, name: str, default: Any = None) -> Any:
        """Return the parameter ``name``, or ``default`` when the model has none of that name."""
        return dict(self.params).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"model": kind, **params}``, as in the TOML file."""
        return {"model": self.kind, **dict(self.params)}

    def __str__(self) -> str:
        return ":".join([self.kind] + [schema.fmt(v) for _, v in self.params])


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
        """Return the event time in seconds, given the expected arrival span."""
        return float(self.at) if self.at is not None else float(self.at_share) * span

    def to_dict(self) -> dict[str, Any]:
        """Return the event as in the TOML file (``at`` in seconds, or a percentage of the arrival span)."""
        at = self.at if self.at is not None else f"{schema.fmt(100 * self.at_share)}%"
        out: dict[str, Any] = {"at": at, "action": self.action}
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
            label = self.name + ("(" + ",".join(f"{k}={schema.fmt(v)}" for k, v in self.options) + ")"
                                 if self.options else "")
            object.__setattr__(self, "label", label)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as in the TOML file's ``algorithms`` list (a table)."""
        out: dict[str, Any] = {"name": self.name, "label": self.label, **dict(self.options)}
        if self.seed is not None:
            out["seed"] = self.seed
        return out

    @classmethod
    def from_entry(cls, item: Any, where: str, weights: Any = (1, 1)) -> AlgorithmSpec:
        """Read one entry of a scenario's ``algorithms``: a registered name, or a table with ``name = ...``.

        The options are tried once on a pool of ``weights`` (they are
        constructor keywords), so a typo fails here, naming ``where``
        (``algorithms[2]``), not in the middle of a run.
        """
        from .schedulers.registry import SCHEDULERS, get

        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ScenarioError(f"{where} must be a scheduler name or a table with name = ..., got "
                                f"{short(item)}")
        name = item.get("name")
        if not isinstance(name, str):
            raise ScenarioError(f"{where}.name must be a scheduler name, got {short(name)}")
        try:
            scheduler = get(name)
        except KeyError:
            raise ScenarioError(f"{where}.name: unknown algorithm {short(name)} (known: "
                                f"{', '.join(SCHEDULERS)})") from None
        label = item.get("label", "")
        if not isinstance(label, str):
            raise ScenarioError(f"{where}.label must be a string, got {short(label)}")
        seed = item.get("seed")
        if seed is not None:
            schema.integer(seed, f"{where}.seed", 0, 2**63 - 1)
        options = tuple(sorted((k, v) for k, v in item.items() if k not in ("name", "label", "seed")))
        try:
            scheduler(weights=list(weights), **dict(options))
        except TypeError as e:
            message = str(e)
            if "unexpected keyword argument" in message:
                option = message.rsplit(" ", 1)[-1]
                message = f"unknown option {option} (see help(lbalgo.{scheduler.__name__}))"
            raise ScenarioError(f"{where} ({scheduler.name}): {message}") from None
        except ValueError as e:
            raise ScenarioError(f"{where} ({scheduler.name}): {e}") from None
        return cls(scheduler.name, label, options, seed)


#: Models already validated (Scenario checks each model it is given once; replace() re-validates often).
_CHECKED_MODELS: set[tuple[Any, str, bool]] = set()


DEFAULT_ARRIVALS = Model("poisson", (("rate", 2000.0),))
DEFAULT_LIFETIMES = Model("exponential", (("mean", 1.0),))
DEFAULT_CLIENTS = Model("zipf", (("count", 50_000), ("exponent", 1.1), ("network", "10.0.0.0/8")))
DEFAULT_DESTINATIONS = Model("zipf", (("count", 10_000), ("exponent", 1.0), ("network", "172.16.0.0/12")))


@dataclass(frozen=True)
class ServiceModel:
    """How backends serve connections: the ``[service]`` table of a scenario.

    These are :func:`lbalgo.simulate`'s ``service``, ``servers``, ``speeds``,
    ``lifecycle``, ``establish`` and ``linger``, and the number of counter
    samples. Not a Kubernetes Service (that is :class:`lbalgo.kube.Service`).
    """

    model: str = "infinite"
    servers: Any = 1  # int, "weight" or a tuple per backend (FIFO)
    speeds: Any = 1.0  # float, "weight" or a tuple per backend (FIFO, PS)
    lifecycle: str = "simple"
    establish: float = 0.0
    linger: float = 120.0
    samples: int = 200  # counter samples over the run (for the active-connections plot)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``[service]`` table, defaults filled in."""
        return {"model": self.model, "servers": _listy(self.servers), "speeds": _listy(self.speeds),
                "lifecycle": self.lifecycle, "establish": self.establish, "linger": self.linger,
                "samples": self.samples}


# Former names, kept for code that imported them from here. They were renamed because "Service" also
# names a Kubernetes Service (lbalgo.kube.Service), and "SERVICES" lbalgo.sim's engine codes.
Service = ServiceModel
SERVICES = SERVICE_MODELS


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
    service: ServiceModel = field(default_factory=ServiceModel)
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
        schema.integer(self.connections, "connections", 1, limits.get("MAX_CONNECTIONS"), "MAX_CONNECTIONS")
        if not isinstance(self.service, ServiceModel):
            raise ScenarioError(f"service must be a scenario.ServiceModel, got {short(self.service)}")
        if not isinstance(self.algorithms, (tuple, list)) or not all(isinstance(a, AlgorithmSpec)
                                                                     for a in self.algorithms):
            raise ScenarioError("algorithms must be a sequence of scenario.AlgorithmSpec, got "
                                f"{short(self.algorithms)}")
        for section, model in (("arrivals", self.arrivals), ("lifetimes", self.lifetimes),
                               ("clients", self.clients), ("destinations", self.destinations)):
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
                model_from_table(table, section)
                if section in ("clients", "destinations"):
                    schema.check_population(model, section)
                if len(_CHECKED_MODELS) < 256:
                    _CHECKED_MODELS.add(key)
        schema.integer(self.seed, "seed", 0, 2**63 - 1)
        if self.load is not None:
            schema.number(self.load, "arrivals.load", low=0.0, high=None)
            if self.service.model == "infinite":
                raise ScenarioError("arrivals.load needs a queued service model (service.model = 'fifo' "
                                    "or 'ps'); with the infinite server give arrivals.rate")
            if self.mean_lifetime <= 0:
                raise ScenarioError("arrivals.load needs lifetimes with a mean > 0 (the work each connection "
                                    "brings); give arrivals.rate instead")
        schema.check_service(self.service, len(w), added)
        if self.service.lifecycle == "tcp" and self.service.model != "infinite":
            raise ScenarioError("service.lifecycle = 'tcp' is modelled with service.model = 'infinite' only")
        for label in _duplicates([a.label for a in self.algorithms]):
            raise ScenarioError(f"algorithms: the label {short(label)} is used twice (give each a distinct "
                                "label)")
        self._check_rates()

    def _check_rates(self) -> None:
        """Check that the arrival rate and span are usable numbers.

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
        """Return the arrival model with its ``rate`` spelled out (derived from ``load`` when that is given).

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
        """Return the :class:`lbalgo.workloads.Workload` of this scenario (seeded by :attr:`seed`)."""
        from . import workloads

        # The models' required parameters are in the order their workloads classes take them.
        a, life = self.arrivals_with_rate(), self.lifetimes
        arrivals = getattr(workloads, _ARRIVAL_CLASSES[a.kind])(*(a[p] for p in ARRIVALS[a.kind][0]))
        lifetimes = getattr(workloads, life.kind)(*(life[p] for p in LIFETIMES[life.kind][0]))
        return workloads.Workload(arrivals=arrivals, n=self.connections, lifetimes=lifetimes,
                                  clients=schema.population(self.clients),
                                  destinations=schema.population(self.destinations), seed=self.seed)

    def sim_events(self) -> list[Any]:
        """Return the pool events as :mod:`lbalgo.sim.events` objects, in seconds."""
        from .sim import events as ev

        # ACTIONS lists each action's fields in the order the event classes take them after the time.
        span = self.span
        out = []
        for e in self.events:
            cls = getattr(ev, _EVENT_CLASSES[e.action])
            out.append(cls(e.time(span), *(getattr(e, name) for name in ACTIONS[e.action])))
        return out

    def describe(self) -> str:
        """Describe the scenario in one line: connections, arrivals, lifetimes, clients, service."""
        lifecycle = self.service.lifecycle
        svc = self.service.model + (f" ({lifecycle} life cycle)" if lifecycle != "simple" else "")
        load = f", load {schema.fmt(self.load)}" if self.load is not None else ""
        arrivals = f"{self.arrivals.kind} arrivals at {self.rate:,.1f}/s{load}"
        return (f"{self.connections:,} connections, {arrivals}, "
                f"{self.lifetimes} lifetimes, {self.clients.kind} clients ({self.clients['count']:,}), "
                f"service {svc}, {len(self.events)} pool event{'s' if len(self.events) != 1 else ''}, "
                f"seed {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        """Return the whole scenario as plain data (the TOML fields, defaults filled in)."""
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
        """Return a copy that runs these algorithms: registered names, or tables as in ``algorithms``."""
        return replace(self, algorithms=tuple(AlgorithmSpec.from_entry(n, f"algorithms[{i}]", self.weights)
                                              for i, n in enumerate(names)))


def model_from_table(table: Any, section: str) -> tuple[Model, dict[str, Any]]:
    """Read ``[section]`` (``model = ...`` plus parameters) as a :class:`Model`, checking every field.

    ``section`` is ``"arrivals"``, ``"lifetimes"``, ``"clients"`` or
    ``"destinations"``. Returns the model and, for arrivals, ``{"load": ...}``
    when the table gives a load instead of a rate (else ``{}``).
    """
    extra = ("load",) if section == "arrivals" else ()
    kind, params, given = schema.model_params(table, section, _SECTION_MODELS[section], extra)
    return Model(kind, params), given


def _listy(v: Any) -> Any:
    """Write a per-backend tuple as a list (as in the TOML file); other values as they are."""
    return list(v) if isinstance(v, tuple) else v


def _duplicates(items: list[str]) -> list[str]:
    """Return the items seen before, in order (each repeat once per repeat)."""
    seen: set[str] = set()
    return [x for x in items if x in seen or seen.add(x)]  # type: ignore[func-returns-value]


def _per_backend(value: Any, weights: tuple[int, ...], n: int) -> list[float]:
    """Expand a service value (a number, ``"weight"`` or a tuple) to one float per initial backend."""
    if value == "weight":
        return [max(1.0, float(w)) for w in weights]
    if isinstance(value, tuple):
        return [float(v) for v in value[:n]]
    return [float(value)] * n


def default() -> Scenario:
    """Return the built-in scenario shipped with lbalgo (``lbalgo/scenarios/default.toml``)."""
    from .scenario_file import from_dict

    text = resources.files("lbalgo").joinpath("scenarios/default.toml").read_text(encoding="utf-8")
    return from_dict(tomllib.loads(text), "default")


#: Names that live in the modules built on this one, importable from here as before:
#: reading files in lbalgo.scenario_file, the command line's model shorthand in lbalgo.cli_args.
_ELSEWHERE = {"load": "scenario_file", "from_dict": "scenario_file", "parse_model": "cli_args"}


def __getattr__(name: str) -> Any:
    if name not in _ELSEWHERE:
        raise AttributeError(f"module 'lbalgo.scenario' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_ELSEWHERE[name]}", __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ELSEWHERE))


"""Scenario files: TOML or JSON, and parsed tables, read as a :class:`~lbalgo.scenario.Scenario`.

:func:`load` reads a file (or the scenario of a JSON report); :func:`from_dict`
converts the parsed tables, rejecting unknown keys and bad values with a
:class:`~lbalgo.scenario.ScenarioError` that names the field. Both are also
importable from :mod:`lbalgo.scenario`, which holds the model they build.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from . import _readers, _validate
from . import scenario_schema as schema
from .errors import short
from .scenario import AlgorithmSpec, Event, Scenario, ServiceModel, model_from_table
from .scenario_schema import ACTIONS, ScenarioError

#: The top-level keys of a scenario file.
TOP_LEVEL = {"name", "seed", "connections", "pool", "arrivals", "lifetimes", "clients", "destinations",
             "service", "events", "algorithms"}


def from_dict(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML or JSON, rejecting unknown keys and bad values."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: a scenario must be a table (TOML) or an object (JSON), "
                            f"got {type(data).__name__}")
    _readers.check_nesting(dict(data), source, ScenarioError)
    data = dict(data)
    schema.no_unknown(data, TOP_LEVEL, "")
    pool = data.get("pool", {})
    if isinstance(pool, dict) and "endpointslices" in pool:  # a pool read from EndpointSlices (lbalgo.kube)
        pool = {"weights": _kube_weights(pool, source)}
    if not isinstance(pool, dict) or "weights" not in pool:
        raise ScenarioError(f"{source}: [pool] with weights = [...] is required")
    schema.no_unknown(pool, {"weights"}, "pool.")
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
        kw["arrivals"], extra = model_from_table(data["arrivals"], "arrivals")
        if ("load" in extra) == ("rate" in dict(kw["arrivals"].params)):
            raise ScenarioError(schema.RATE_OR_LOAD)
        if "load" in extra:
            kw["load"] = extra["load"]
            if not isinstance(kw["load"], (int, float)) or isinstance(kw["load"], bool):
                raise ScenarioError(f"arrivals.load must be a number > 0, got {short(kw['load'])}")
    if "lifetimes" in data:
        kw["lifetimes"], _ = model_from_table(data["lifetimes"], "lifetimes")
    for section in ("clients", "destinations"):
        if section in data:
            kw[section], _ = model_from_table(data[section], section)
            schema.check_population(kw[section], section)
    events = data.get("events", [])
    if not isinstance(events, list):
        raise ScenarioError(f"events must be a list of tables ([[events]]), got {short(events)}")
    kw["events"] = tuple(_event(e, i) for i, e in enumerate(events))
    algorithms = data.get("algorithms", [])
    if not isinstance(algorithms, list):
        raise ScenarioError(f"algorithms must be a list of names or tables, got {short(algorithms)}")
    kw["algorithms"] = tuple(AlgorithmSpec.from_entry(a, f"algorithms[{i}]", kw["weights"])
                             for i, a in enumerate(algorithms))
    return Scenario(**kw)


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


def _service(table: Any) -> ServiceModel:
    """Read ``[service]``: lists become tuples (one value per backend), ``"inf"`` an infinite establish."""
    if not isinstance(table, dict):
        raise ScenarioError(f"[service] must be a table, got {short(table)}")
    known = {"model", "servers", "speeds", "lifecycle", "establish", "linger", "samples"}
    schema.no_unknown(table, known, "service.")
    kw = dict(table)
    for name in ("servers", "speeds"):
        if isinstance(kw.get(name), list):
            kw[name] = tuple(kw[name])
        elif isinstance(kw.get(name), str) and kw[name] != "weight":
            raise ScenarioError(f"service.{name} must be a number, a list or \"weight\", got "
                                f"{short(kw[name])}")
    if isinstance(kw.get("establish"), str) and kw["establish"] == "inf":
        kw["establish"] = math.inf  # UDP: never established
    return ServiceModel(**kw)


def _event(table: Any, i: int) -> Event:
    """Read ``[[events]]`` number ``i``: ``at`` in seconds or as a percentage, and the action's fields."""
    where = f"events[{i}]"
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table ([[events]]), got {short(table)}")
    action = table.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise ScenarioError(f"{where}.action must be one of {', '.join(ACTIONS)}, got {short(action)}")
    needed = ACTIONS[action]
    schema.no_unknown(table, {"at", "action", *needed}, f"{where}.", f" for action {short(action)}")
    if "at" not in table:
        raise ScenarioError(f"{where}.at is required (seconds, or a share of the arrival span "
                            "such as \"40%\")")
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
        at = schema.number(at, f"{where}.at", 0.0, inclusive=True)
    kw: dict[str, Any] = {}
    for name in needed:
        if name not in table and name not in ("upper", "lower"):
            raise ScenarioError(f"{where}.{name} is required for action {short(action)}")
        value = table.get(name, 0)
        try:
            if name == "weight":
                value = _validate.weight(value, f"{where}.weight")
            else:
                value = schema.integer(value, f"{where}.{name}", 0, 2**31 - 1)
        except (TypeError, ValueError) as e:
            raise ScenarioError(str(e)) from None
        kw[name] = value
    return Event(action=action, at=at, at_share=at_share, **kw)


#: Keys a scenario's ``[pool]`` table may hold when its pool comes from EndpointSlices.
KUBE_POOL_KEYS = {"endpointslices", "service", "port", "protocol", "node", "zone",
                  "internal_traffic_policy", "traffic"}


def _kube_weights(pool: dict[str, Any], source: str) -> list[int]:
    """Read ``[pool] endpointslices = "file"``: weight 1 per endpoint the node forwards to.

    ::

        [pool]
        endpointslices = "slices.json"   # relative to the scenario file
        service = "shop/web"             # if the file holds several Services
        port = "http"                    # if the Service has several ports
        node = "worker-a1"               # the node whose kube-proxy is modelled
        zone = "eu-west-1a"              # that node's zone label (topology hints)

    kube-proxy gives every endpoint the same weight; the backends are in
    ``"ip:port"`` order.
    """
    base = Path(source).parent if Path(source).is_file() else None
    try:
        return _endpoint_weights(pool, base)
    except (ValueError, TypeError, KeyError) as e:
        raise ScenarioError(f"{source}: [pool]: {e}") from None


def _endpoint_weights(table: dict[str, Any], base: Path | None) -> list[int]:
    from .kube import Node, Service, load_endpointslices  # only scenarios that ask for it import lbalgo.kube

    unknown = sorted(set(table) - KUBE_POOL_KEYS)
    if unknown:
        raise ValueError(f"unknown field pool.{unknown[0]} (known with endpointslices: "
                         f"{', '.join(sorted(KUBE_POOL_KEYS))})")
    path = table["endpointslices"]
    if not isinstance(path, str):
        raise TypeError(f"pool.endpointslices must be a file name, got {path!r}")
    p = Path(path)
    if not p.is_absolute() and base is not None:
        p = base / p
    svc = Service.from_endpointslices(load_endpointslices(p), table.get("service"), table.get("port"),
                                      table.get("protocol"),
                                      internal_traffic_policy=table.get("internal_traffic_policy", "Cluster"))
    node = Node(table.get("node", "(no node)"), table.get("zone"))
    target = svc.target(node, table.get("traffic", "internal"))
    if target.verdict != "forward" or not target.endpoints:
        raise ValueError(f"node {node.name} has no endpoint for {svc.port_string} ({target.verdict}: "
                         f"{target.reason})")
    return [1] * len(target.endpoints)


__all__ = ["from_dict", "load", "TOP_LEVEL"]

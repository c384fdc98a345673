"""The scenario schema: what a scenario may name, and the check of each field.

The tables below list the arrival, lifetime and population models with their
parameters, the service models and life cycles, and the pool-event actions
with their fields (``docs/scenarios.md`` documents them). The functions check
one value each and raise :class:`ScenarioError` naming the field and the bad
value (``arrivals.rate must be a number > 0, got -1``). :mod:`lbalgo.scenario`
builds on them, and re-exports the tables and the error.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import LbalgoError, short

if TYPE_CHECKING:  # pragma: no cover
    from .scenario import Model, ServiceModel


class ScenarioError(LbalgoError, ValueError):
    """A scenario file or field is malformed; the message names the file (when there is one) and the field."""

    __module__ = "lbalgo.scenario"  # its documented home, which re-exports it


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

#: The service models (``service.model``) and life cycles (``service.lifecycle``) by name.
SERVICE_MODELS = ("infinite", "fifo", "ps")
LIFECYCLES = ("simple", "tcp")

#: Pool-event actions and the fields each needs besides ``at``.
ACTIONS: dict[str, tuple[str, ...]] = {
    "add": ("weight",), "remove": ("backend",), "weight": ("backend", "weight"),
    "quiesce": ("backend",), "fail": ("backend",), "recover": ("backend",),
    "thresholds": ("backend", "upper", "lower"),
}

#: The message when arrivals give both a rate and a load, or neither.
RATE_OR_LOAD = ("arrivals: give exactly one of rate (per second) and load "
                "(offered load, a share of the pool's capacity)")


# -- one field each ------------------------------------------------------------------
def fmt(v: Any) -> str:
    """Write a value for a label or a message: a whole float without its ``.0`` (``2.0`` -> ``2``)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v)) if not isinstance(v, bool) else str(v)
    return str(v)


def integer(value: Any, name: str, low: int, high: int, limit: str | None = None) -> int:
    """Check that ``value`` is a whole number in ``low..high`` and return it as an int.

    Above ``high``, the error is a :class:`~lbalgo.errors.LimitExceeded` when
    ``high`` is the named limit ``limit`` (``MAX_CONNECTIONS``, ...).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScenarioError(f"{name} must be a whole number in {low}..{high}, got {short(value)}")
    if limit is not None and int(value) > high:
        limits.check(limit, int(value), f"{name} = {short(value)}", ScenarioError)
    if not low <= int(value) <= high:
        raise ScenarioError(f"{name} must be in {low}..{high}, got {short(value)}")
    return int(value)


def finite(value: Any) -> bool:
    """Tell whether ``value`` is a finite float (an integer too large for a float is not)."""
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):  # an integer too large for a float
        return False


def number(value: Any, name: str, low: float = 0.0, high: float | None = None, *,
           inclusive: bool = False) -> float:
    """Check that ``value`` is a finite real number > low (>= low when ``inclusive``), <= high when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not finite(value):
        raise ScenarioError(f"{name} must be a finite number, got {short(value)}")
    v = float(value)
    if (v < low) if inclusive else (v <= low):
        raise ScenarioError(f"{name} must be a number {'>=' if inclusive else '>'} {fmt(low)}, got "
                            f"{short(value)}")
    if high is not None and v > high:
        raise ScenarioError(f"{name} must be <= {fmt(high)}, got {short(value)}")
    return v


def no_unknown(table: dict[str, Any], known: set[str], prefix: str, suffix: str = "") -> None:
    """Refuse the first key of ``table`` (sorted) that is not in ``known``, listing the known ones."""
    unknown = sorted((k for k in table if k not in known), key=str)
    if unknown:
        name = unknown[0] if isinstance(unknown[0], str) and len(unknown[0]) <= 60 else short(unknown[0])
        raise ScenarioError(f"unknown field {prefix}{name}{suffix} (known: {', '.join(sorted(known))})")


# -- models and the service ------------------------------------------------------------
def model_params(table: Any, section: str, models: dict[str, tuple[tuple[str, ...], dict[str, Any]]],
                 extra: tuple[str, ...] = ()) -> tuple[str, tuple[tuple[str, Any], ...], dict[str, Any]]:
    """Check ``[section]`` (``model = ...`` plus parameters) against ``models``.

    Returns
    -------
    kind : str
        The model's name.
    params : tuple of (name, value)
        Required parameters first, then the optional ones with their defaults.
    extra : dict
        The fields named in ``extra`` that the table holds (the arrivals' ``load``).
    """
    if not isinstance(table, dict):
        raise ScenarioError(f"[{section}] must be a table, got {short(table)}")
    if "model" not in table:
        raise ScenarioError(f"{section}.model is required: one of {', '.join(models)}")
    kind = table["model"]
    if not isinstance(kind, str) or kind not in models:
        raise ScenarioError(f"{section}.model must be one of {', '.join(models)}, got {short(kind)}")
    required, optional = models[kind]
    known = {"model", *required, *optional, *extra}
    no_unknown(table, known, f"{section}.", f" for model {short(kind)}")
    params: list[tuple[str, Any]] = []
    for name in required:
        if name not in table:
            if name == "rate" and "load" in extra:
                if "load" in table:
                    continue
                raise ScenarioError(RATE_OR_LOAD)
            raise ScenarioError(f"{section}.{name} is required for model {short(kind)}")
        params.append((name, param(table[name], f"{section}.{name}", name)))
    for name, default in optional.items():
        default = SECTION_DEFAULTS.get(section, {}).get(name, default)
        params.append((name, param(table.get(name, default), f"{section}.{name}", name)))
    return kind, tuple(params), {k: table[k] for k in extra if k in table}


def param(value: Any, where: str, name: str) -> Any:
    """Check one model parameter by its name (``count``, ``network``, ``exponent``, ...); return it."""
    if name == "count":
        return integer(value, where, 1, limits.get("MAX_CLIENTS"), "MAX_CLIENTS")
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
        return number(value, where, 0.0, 10.0, inclusive=True)
    if name == "value":
        return number(value, where, 0.0, inclusive=True)
    if name == "alpha":
        return number(value, where, 1.0)
    return number(value, where)


def population(m: Model) -> Any:
    """Return the :mod:`lbalgo.workloads` population (zipf or uniform) that a clients model names."""
    from . import workloads

    if m.kind == "zipf":
        return workloads.zipf(m["count"], m["exponent"], network=m["network"])
    return workloads.uniform(m["count"], network=m["network"])


def check_population(m: Model, section: str) -> None:
    """Check that the population fits its network (and the limits), naming ``section`` if not."""
    try:
        population(m)
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"{section}: {e}") from None


def check_service(s: ServiceModel, n: int, added: int = 0) -> None:
    """Check the service settings for a pool of ``n`` backends plus ``added`` by pool events."""
    if not isinstance(s.model, str) or s.model not in SERVICE_MODELS:
        raise ScenarioError(f"service.model must be one of {', '.join(SERVICE_MODELS)}, got {short(s.model)}")
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
                integer(v, where, 1, 10**6)
            else:
                number(v, where)
    if not (isinstance(s.establish, float) and s.establish == math.inf):  # inf models UDP
        number(s.establish, "service.establish", 0.0, inclusive=True)
    number(s.linger, "service.linger", 0.0, inclusive=True)
    integer(s.samples, "service.samples", 2, 100_000)

"""The arguments of the ``lbalgo`` command: its parser, and the values its options take.

:func:`parser` builds the argument parser (``lbalgo --help``);
:func:`scenario_from_args` applies the ``compare`` options to a scenario,
reading the models' ``model:a:b`` shorthand with :func:`parse_model`. A bad
value raises :class:`UsageError` (exit code 2), or
:class:`~lbalgo.scenario.ScenarioError` for a bad model. The commands are in
:mod:`lbalgo.cli`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from typing import Any, NoReturn

from . import limits
from . import scenario_schema as schema
from .errors import LbalgoError, short
from .scenario import (
    ARRIVALS,
    LIFETIMES,
    POPULATIONS,
    Model,
    Scenario,
    ScenarioError,
    default,
    model_from_table,
)
from .scenario_file import load

EXAMPLES = """examples:
  lbalgo compare                                  built-in scenario: IPVS and kube-proxy algorithms
  lbalgo compare --algorithms all                 every algorithm: IPVS, kube-proxy, nginx, HAProxy, Envoy
  lbalgo compare --algorithms rr,wrr,wlc,sh --weights 4,2,1,1 --connections 2e6 \\
                 --clients zipf:50000:1.1 --lifetime lognormal:2:1 --seed 7
  lbalgo compare scenario.toml --format md -o report.md --plot report.png
  lbalgo compare --format csv --no-timing -o report.csv   reproducible, byte for byte
  lbalgo compare --service infinite --arrivals poisson:5000   IPVS counters = open connections
  lbalgo compare --format html -o report.html     one self-contained page: tables and plots
  lbalgo sweep docs/sweeps/load-vs-backends.toml -o results/   a grid of scenarios on Dask
  lbalgo list                                     algorithms with one-line descriptions
  lbalgo show wrr --weights 4,3,2 -n 18           the decision sequence, for teaching
  lbalgo cache --clear                            delete the compiled kernels (they are rebuilt on use)
"""

SWEEP_EXAMPLES = """examples:
  lbalgo sweep docs/sweeps/load-vs-backends.toml -o results/   local Dask cluster, one worker per core
  lbalgo sweep grid.toml --scheduler tcp://dask-scheduler:8786  an existing Dask cluster
  lbalgo sweep grid.toml --dry-run                             check the grid, list the cells
Run the same command again after Ctrl-C: finished runs are kept and skipped.
"""


class UsageError(LbalgoError):
    """Bad arguments or input: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (then exit code 2)."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"lbalgo: error: {message} (see: {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    """Build the parser of the ``lbalgo`` command and its subcommands (compare, list, show, sweep, cache)."""
    p = _Parser(prog="lbalgo", description="Load-balancing algorithms that behave like "
                "Linux IPVS, kube-proxy, nginx and HAProxy.", epilog=EXAMPLES,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", help="run algorithms on one scenario and compare them",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in scenario)")
    c.add_argument("--algorithms", help="comma-separated names, or 'all' for every registered algorithm "
                   "(default: the scenario's; the built-in scenario's are IPVS's and kube-proxy's)")
    c.add_argument("--weights", help="comma-separated backend weights, e.g. 4,2,1,1")
    c.add_argument("--connections", help="number of new connections, e.g. 1e6")
    c.add_argument("--seed", type=int, help="seed of the workload and the random schedulers")
    c.add_argument("--arrivals", metavar="MODEL:...",
                   help="poisson:RATE, constant:RATE or onoff:RATE:MEAN_ON:MEAN_OFF (per second); "
                        "with --load leave the rate out (poisson, onoff:MEAN_ON:MEAN_OFF)")
    c.add_argument("--load", type=float, help="offered load instead of a rate: a share of the pool's "
                   "capacity (queued service models)")
    c.add_argument("--lifetime", metavar="MODEL:...", help="exponential:MEAN, lognormal:MEAN:SIGMA, "
                   "pareto:ALPHA:MEAN or constant:VALUE (seconds; work at speed 1 when queued)")
    c.add_argument("--clients", metavar="MODEL:...", help="zipf:COUNT[:EXPONENT[:NETWORK]] or "
                   "uniform:COUNT[:NETWORK]")
    c.add_argument("--service", choices=list(schema.SERVICE_MODELS),
                   help="service model (see docs/scenarios.md)")
    c.add_argument("--no-events", action="store_true", help="leave out the scenario's pool events")
    c.add_argument("--format", choices=["text", "json", "md", "csv", "html"], default="text",
                   help="report format (default: text; html: one self-contained page with plots)")
    c.add_argument("-o", "--output", help="write the report to this file instead of stdout")
    c.add_argument("--no-timing", action="store_true",
                   help="leave out decisions/s, so the report is the same byte for byte on every run")
    c.add_argument("--plot", metavar="PNG", help="also write the plots: shares, open connections over time, "
                   "latency CDF, disruption (needs matplotlib)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    sub.add_parser("list", help="list the algorithms", formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog="examples:\n  lbalgo list                  name, class, summary and source system\n"
                          "  lbalgo list | grep IPVS      the IPVS schedulers\n")

    s = sub.add_parser("show", help="print the first decisions of one algorithm",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n"
                              "  lbalgo show wrr --weights 4,3,2 -n 9      prints 0 0 1 0 1 2 0 1 2\n"
                              "  lbalgo show random --weights 1,1 --seed 7\n"
                              "  lbalgo show sh --weights 1,1,1 --keys 10.0.0.1,10.0.0.2 -n 4\n")
    s.add_argument("algorithm")
    s.add_argument("--weights", required=True, help="comma-separated weights, e.g. 4,3,2")
    s.add_argument("-n", type=int, default=18, help="number of decisions (default 18)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--keys", help="comma-separated client addresses to cycle through (keyed algorithms)")
    w = sub.add_parser("sweep", help="run a grid of scenarios on Dask: tables, summary, HTML report",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=SWEEP_EXAMPLES)
    w.add_argument("grid", help="sweep grid TOML file (see docs/sweeps.md)")
    w.add_argument("-o", "--output", dest="directory", metavar="DIR", help="results directory; finished runs "
                   "in it are not run again (default: NAME-sweep, after the grid's name)")
    w.add_argument("--workers", type=int, help="worker processes of the local Dask cluster "
                   "(default: one per core)")
    w.add_argument("--scheduler", metavar="ADDRESS", help="use the Dask cluster at this address "
                   "(tcp://host:8786) instead of a local one")
    w.add_argument("--timing", action="store_true", help="add connections_per_second to the tables "
                   "(varies from run to run)")
    w.add_argument("--dry-run", action="store_true", help="check the grid and list its cells; run nothing")
    w.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    k = sub.add_parser("cache", help="where compiled kernels are cached; --clear deletes them")
    k.add_argument("--clear", action="store_true", help="delete every cached kernel (all lbalgo versions)")
    return p


def int_list(text: str, what: str) -> list[int]:
    """Read comma-separated integers (``4,2,1``); empty items are skipped, none at all is an error."""
    items = [x for x in text.split(",") if x.strip()]
    try:
        values = [int(x) for x in items]
    except ValueError:
        values = []
    if not values:
        raise UsageError(f"{what} must be comma-separated integers, got {quote(text)}")
    return values


def quote(text: str) -> str:
    """Quote an option's value for a message, cut to a readable length."""
    return short(text)


def whole_number(text: str, what: str, limit: str | None = None) -> int:
    """Read a whole number >= 1, written as an integer or a float (``1e6``).

    Anything else is a UsageError naming ``what``; above the named limit
    ``limit`` (``MAX_CONNECTIONS``), the error says how to raise it.
    """
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} must be a number, got {quote(text)}") from None
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise UsageError(f"{what} must be a whole number >= 1, got {quote(text)}")
    if limit is not None:
        limits.check(limit, value, f"{what} {text.strip()}", UsageError)
    return int(value)


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """Return the scenario ``lbalgo compare`` runs: the file (or the built-in one), options applied."""
    sc = load(args.scenario) if args.scenario else default()
    changes: dict[str, Any] = {}
    if args.weights is not None:
        changes["weights"] = tuple(int_list(args.weights, "--weights"))
    if args.connections is not None:
        changes["connections"] = whole_number(args.connections, "--connections", "MAX_CONNECTIONS")
    if args.seed is not None:
        changes["seed"] = args.seed
    for option, name, section in ((args.arrivals, "--arrivals", "arrivals"),
                                  (args.lifetime, "--lifetime", "lifetimes"),
                                  (args.clients, "--clients", "clients")):
        if option is not None:
            if not option.strip():
                raise UsageError(f"{name} needs a model, got ''")
            changes[section] = parse_model(option, section, with_load=args.load is not None)
    if args.arrivals is not None:
        changes["load"] = None  # a rate given on the command line replaces the file's load
    if args.load is not None:
        changes["load"] = args.load
    if args.service:
        changes["service"] = replace(sc.service, model=args.service)
        if args.service == "infinite" and args.load is None and args.arrivals is None and sc.load is not None:
            # the file's load means nothing without queues: keep its arrival rate
            changes["load"] = None
            changes["arrivals"] = sc.arrivals_with_rate()
    if args.no_events:
        changes["events"] = ()
    if changes:
        sc = replace(sc, **changes)
    return sc


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
        note = ", the rate comes from --load" if with_load else ""
        raise ScenarioError(f"{section}: {kind} takes {':'.join([kind] + order)} "
                            f"({len(required)} to {len(order)} values{note}), got {short(text)}")
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
    model, _ = model_from_table(table, section)
    if section in ("clients", "destinations"):
        schema.check_population(model, section)
    return model


__all__ = ["EXAMPLES", "SWEEP_EXAMPLES", "UsageError", "int_list", "parse_model", "parser", "quote",
           "scenario_from_args", "whole_number"]

"""Sweep grids: a base scenario, axes over its fields, algorithms and replicates.

A grid file (schema in ``docs/sweeps.md``)::

    name = "load-vs-backends"
    seed = 1                      # the sweep's seed: every run's seed derives from it
    replicates = 20               # runs per cell, each with its own seed
    algorithms = ["rr", "wrr", "wlc", { name = "sh", fallback = true, label = "sh-fb" }]
    scenario = "base.toml"        # optional base scenario (relative to this file); default: built-in

    [base]                        # optional: scenario fields replaced in the base, scenario syntax
    connections = 100_000

    [axes]                        # one axis per scenario field; the grid is their product
    "arrivals.load" = [0.5, 0.7, 0.9]
    "pool.backends" = [3, 30]

Every cell's scenario is built and validated when the grid is loaded
(:mod:`lbalgo.sweeps.grid_file`: :func:`load_grid`, :func:`grid_from_dict`,
both importable from here too), and every error names the field or the cell
(``cell 4 (arrivals.load=0.9, pool.backends=3): events[0] (Fail(...)): no
backend with id 5``), so a bad grid fails before any work starts. This
module holds the grid itself, the fields an axis can set, and the seeds.

Seeds: run ``(cell, replicate)`` gets the scenario seed drawn from
``numpy.random.SeedSequence(seed, spawn_key=(*coordinates, replicate))``,
where the coordinates are four 32-bit words of a SHA-256 of the cell's axis
values. A run's seed, and so its results, depends only on the sweep seed,
the cell's values and the replicate: not on the number of workers, the order
in which runs finish, or the other values of the axes (an axis can be
extended and every existing cell keeps its results).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .. import scenario as scenario_mod
from ..scenario import Scenario, ScenarioError


class GridError(ScenarioError):
    """A sweep grid is malformed, or one of its cells is not a valid scenario; the message says where."""


#: Sections whose fields an axis can set, and the fields (every model's parameters for model sections).
def _section_fields() -> dict[str, set[str]]:
    def params(models: Mapping[str, tuple[tuple[str, ...], dict[str, Any]]]) -> set[str]:
        return {"model"} | {p for req, opt in models.values() for p in (*req, *opt)}

    return {
        "pool": {"weights", "backends"},
        "arrivals": params(scenario_mod.ARRIVALS) | {"load"},
        "lifetimes": params(scenario_mod.LIFETIMES),
        "clients": params(scenario_mod.POPULATIONS),
        "destinations": params(scenario_mod.POPULATIONS),
        "service": {f.name for f in dataclasses.fields(scenario_mod.Service)},
    }


SECTION_FIELDS = _section_fields()
#: Scenario fields set as a whole.
WHOLE_FIELDS = {"connections", "events", "arrivals", "lifetimes", "clients", "destinations", "service"}
#: The models of each model section (to keep the parameters a new model also takes).
MODELS = {
    "arrivals": scenario_mod.ARRIVALS,
    "lifetimes": scenario_mod.LIFETIMES,
    "clients": scenario_mod.POPULATIONS,
    "destinations": scenario_mod.POPULATIONS,
}
#: Fields a grid cannot vary, and why.
RESERVED = {
    "seed": "every run's seed derives from the sweep's seed; set replicates for more seeds",
    "algorithms": "list every algorithm variant (with its options and a label) in the sweep's algorithms",
    "name": "the sweep's name is the top-level name",
}


def check_path(path: str, where: str) -> None:
    """Raise :class:`GridError` unless ``path`` names a scenario field a sweep can set."""
    head, _, rest = path.partition(".")
    if head in RESERVED:
        raise GridError(f"{where}: {head} cannot be set here: {RESERVED[head]}")
    if not rest:
        if head not in WHOLE_FIELDS:
            known = sorted(WHOLE_FIELDS | {f"{s}.{f}" for s, fs in SECTION_FIELDS.items() for f in fs})
            raise GridError(f"{where}: unknown field {path!r} (known: {', '.join(known)})")
        return
    if head not in SECTION_FIELDS or "." in rest or rest not in SECTION_FIELDS[head]:
        fields = SECTION_FIELDS.get(head)
        known = (
            (f"{head}.{f}" for f in sorted(fields))
            if fields
            else sorted(WHOLE_FIELDS | {f"{s}.*" for s in SECTION_FIELDS})
        )
        raise GridError(f"{where}: unknown field {path!r} (known: {', '.join(known)})")


def assign(d: dict[str, Any], path: str, value: Any) -> None:
    """Set scenario field ``path`` in the scenario dict ``d`` (as :meth:`Scenario.to_dict` gives it).

    ``pool.backends = n`` repeats the pool's weights cyclically to ``n``
    backends. A new ``model`` keeps the parameters the new model also takes
    and drops the others; ``arrivals.load`` and ``arrivals.rate`` replace each
    other. Anything else is stored as given and checked when the scenario is built.
    """
    head, _, rest = path.partition(".")
    value = copy.deepcopy(value)
    if not rest:
        d[head] = value
        return
    section = d.setdefault(head, {})
    if not isinstance(section, dict):
        section = d[head] = {}
    if head == "pool" and rest == "backends":
        n = value
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 65536:
            raise ScenarioError(f"pool.backends must be a whole number of backends 1 .. 65536, got {n!r}")
        base = list(section.get("weights") or [1])
        section["weights"] = [base[i % len(base)] for i in range(n)]
        return
    if rest == "model" and head in MODELS and section.get("model") != value and value in MODELS[head]:
        required, optional = MODELS[head][value]
        keep = set(required) | set(optional) | ({"load"} if head == "arrivals" else set())
        section = d[head] = {k: v for k, v in section.items() if k in keep}
    if head == "arrivals" and rest in ("load", "rate"):
        section.pop("rate" if rest == "load" else "load", None)
    section[rest] = value


def canonical(value: Any) -> str:
    """Write a TOML value as stable text (sorted keys, no spaces) that identifies an axis value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Axis:
    """One swept field: its dotted ``path``, its ``values`` and their ``labels`` (for tables and plots)."""

    path: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]

    @property
    def numeric(self) -> bool:
        """Whether every value is a number (the axis can be a plot's x axis with real spacing)."""
        return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in self.values)

    @property
    def labelled(self) -> bool:
        """Whether the table shows labels rather than the values themselves (lists, tables, mixed types)."""
        scalar = all(isinstance(v, (str, bool, numbers.Real)) for v in self.values)
        if not scalar:
            return True
        kinds = {
            "number" if isinstance(v, numbers.Real) and not isinstance(v, bool) else type(v).__name__
            for v in self.values
        }
        return len(kinds) > 1 or any(label != default_label(v) for label, v in zip(self.labels, self.values))

    def column(self, index: int) -> Any:
        """Return the table value of the ``index``-th value: the number or string itself, else its label."""
        v = self.values[index]
        if self.labelled:
            return self.labels[index]
        if self.numeric and any(isinstance(x, float) for x in self.values):
            return float(v)
        return v


def default_label(v: Any) -> str:
    """Label an axis value by default: numbers and strings as written, lists and tables compactly."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (str, numbers.Real)):
        return str(v)
    return canonical(v).replace('"', "")


@dataclass(frozen=True)
class Cell:
    """A point of the grid: one value per axis and the validated scenario it gives (seed not yet set)."""

    index: int
    coords: tuple[tuple[str, Any], ...]  # (axis path, value)
    labels: tuple[str, ...]
    scenario: Scenario = field(repr=False)
    positions: tuple[int, ...] = ()  # the index of each value in its axis

    def describe(self) -> str:
        """``arrivals.load=0.9, pool.backends=30`` (or ``the base scenario`` without axes)."""
        if not self.coords:
            return "the base scenario"
        return ", ".join(f"{path}={label}" for (path, _), label in zip(self.coords, self.labels))

    @property
    def key(self) -> bytes:
        """The cell's coordinates as bytes: the canonical text of its axis values."""
        return canonical([[p, v] for p, v in self.coords]).encode()


@dataclass(frozen=True)
class Run:
    """One replicate of one cell: the scenario run (its ``seed`` derived) and a key identifying the result."""

    cell: Cell
    replicate: int
    seed: int
    scenario: Scenario = field(repr=False)
    key: str

    def describe(self) -> str:
        """``cell 4 (arrivals.load=0.9, pool.backends=3), replicate 2``."""
        return f"cell {self.cell.index} ({self.cell.describe()}), replicate {self.replicate}"


def run_seed(sweep_seed: int, cell_key: bytes, replicate: int) -> int:
    """Return the 63-bit scenario seed of a run, from the sweep seed, the cell's key and the replicate."""
    words = np.frombuffer(hashlib.sha256(cell_key).digest()[:16], dtype="<u4")
    ss = np.random.SeedSequence(sweep_seed, spawn_key=(*(int(w) for w in words), int(replicate)))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def run_key(sc: Scenario, replicate: int) -> str:
    """Digest everything a run's results depend on: its whole scenario (seed included) and the replicate."""
    text = json.dumps({"scenario": sc.to_dict(), "replicate": replicate}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Grid:
    """A validated sweep: the cells (product of the axes), the algorithms, replicates and seeds.

    Build it with :func:`~lbalgo.sweeps.grid_file.load_grid` (a TOML file) or
    :func:`~lbalgo.sweeps.grid_file.grid_from_dict`.
    """

    name: str
    seed: int
    replicates: int
    confidence: float
    axes: tuple[Axis, ...]
    cells: tuple[Cell, ...]
    algorithms: tuple[str, ...]  # labels, in order
    base: Scenario = field(repr=False)
    x: str | None = None  # the axis plotted on the x axis
    metrics: tuple[str, ...] = ()  # metrics plotted (empty: the report's default)
    source: dict[str, Any] = field(default_factory=dict, repr=False)  # the grid as given (for sweep.json)

    def runs(self) -> list[Run]:
        """Every run, cell by cell, replicates in order."""
        out = []
        for cell in self.cells:
            for r in range(self.replicates):
                seed = run_seed(self.seed, cell.key, r)
                sc = dataclasses.replace(cell.scenario, seed=seed)
                out.append(Run(cell, r, seed, sc, run_key(sc, r)))
        return out

    def describe(self) -> str:
        """One line: cells, axes, replicates, algorithms."""
        axes = "; ".join(f"{a.path} in [{', '.join(a.labels)}]" for a in self.axes) or "no axes"
        return (
            f"{len(self.cells)} cell{'s' * (len(self.cells) != 1)} ({axes}) x {self.replicates} "
            f"replicate{'s' * (self.replicates != 1)} x {len(self.algorithms)} algorithms, seed {self.seed}"
        )


#: Names that live in lbalgo.sweeps.grid_file, importable from here as before.
_IN_GRID_FILE = ("grid_from_dict", "load_grid", "TOP_LEVEL")


def __getattr__(name: str) -> Any:
    if name not in _IN_GRID_FILE:
        raise AttributeError(f"module 'lbalgo.sweeps.grid' has no attribute {name!r}")
    from . import grid_file

    value = getattr(grid_file, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_IN_GRID_FILE))


__all__ = ["Grid", "Axis", "Cell", "Run", "GridError", "run_seed", "run_key", "assign", "check_path",
           "canonical", "default_label"]
__all__ += ["load_grid", "grid_from_dict"]  # noqa: F822 - in lbalgo.sweeps.grid_file, loaded by __getattr__

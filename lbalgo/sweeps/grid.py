"""Sweep grids: a base scenario, axes over its fields, algorithms and replicates, from TOML.

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

Every cell's scenario is built and validated when the grid is loaded, and
every error names the field or the cell (``cell 4 (arrivals.load=0.9,
pool.backends=3): events[0] (Fail(...)): no backend with id 5``), so a bad
grid fails before any work starts.

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
import itertools
import json
import math
import numbers
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
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
MODELS = {
    "arrivals": scenario_mod.ARRIVALS,
    "lifetimes": scenario_mod.LIFETIMES,
    "clients": scenario_mod.POPULATIONS,
    "destinations": scenario_mod.POPULATIONS,
}
TOP_LEVEL = {"name", "seed", "replicates", "confidence", "algorithms", "scenario", "base", "axes", "report"}
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


def _flatten_base(table: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Flatten ``[base]`` to (path, value) pairs: sections field by field, ``model`` first."""
    pairs: list[tuple[str, Any]] = []
    for key, value in table.items():
        if key in SECTION_FIELDS and isinstance(value, dict):
            for k in sorted(value, key=lambda k: k != "model"):
                pairs.append((f"{key}.{k}", value[k]))
        else:
            pairs.append((key, value))
    return pairs


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
        return len(kinds) > 1 or any(label != _label(v) for label, v in zip(self.labels, self.values))

    def column(self, index: int) -> Any:
        """Return the table value of the ``index``-th value: the number or string itself, else its label."""
        v = self.values[index]
        if self.labelled:
            return self.labels[index]
        if self.numeric and any(isinstance(x, float) for x in self.values):
            return float(v)
        return v


def _label(v: Any) -> str:
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

    Build it with :func:`load_grid` (a TOML file) or :func:`grid_from_dict`.
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


def _integer(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GridError(f"{where} must be a whole number {low} .. {high:,}, got {value!r}")
    return value


def _axes(table: Any) -> list[Axis]:
    if not isinstance(table, dict):
        raise GridError(f"[axes] must be a table of field = [values], got {table!r}")
    flat: list[tuple[str, Any]] = []

    def walk(prefix: str, t: dict[str, Any]) -> None:
        for key, value in t.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and "values" not in value:
                walk(path + ".", value)  # [axes.arrivals] load = [...]
            else:
                flat.append((path, value))

    walk("", table)
    axes = []
    for path, spec in flat:
        where = f"axes.{path}"
        check_path(path, where)
        labels = None
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - {"values", "labels"})
            if unknown:
                raise GridError(
                    f"{where}: unknown key {unknown[0]!r} (an axis is a list of values, or a table "
                    "with values = [...] and labels = [...])"
                )
            values, labels = spec["values"], spec.get("labels")
        else:
            values = spec
        if not isinstance(values, list):
            raise GridError(f"{where} must be a list of values, got {values!r}")
        if not values:
            raise GridError(f"{where} is empty: give at least one value")
        if labels is None:
            labels = [_label(v) for v in values]
        if (
            not isinstance(labels, list)
            or len(labels) != len(values)
            or not all(isinstance(x, str) for x in labels)
        ):
            raise GridError(
                f"{where}.labels must be a list of {len(values)} strings, one per value, got {labels!r}"
            )
        seen: dict[str, int] = {}
        for i, v in enumerate(values):
            c = canonical(v)
            if c in seen:
                raise GridError(
                    f"{where}: the value {labels[i]} is given twice (positions {seen[c]} and {i})"
                )
            seen[c] = i
        for dup in {x for x in labels if labels.count(x) > 1}:
            raise GridError(f"{where}.labels: {dup!r} labels two values (labels must be distinct)")
        axes.append(Axis(path, tuple(values), tuple(labels)))
    paths = [a.path for a in axes]
    for p in paths:
        if paths.count(p) > 1:
            raise GridError(f"axes: {p} is given twice")
    if "pool.backends" in paths and "pool.weights" in paths:
        raise GridError(
            "axes: pool.backends and pool.weights cannot both be axes (backends repeats the weights)"
        )
    for whole in paths:
        for other in paths:
            if other.startswith(whole + "."):
                raise GridError(
                    f"axes: {whole} and {other} cannot both be axes ({whole} sets the whole table)"
                )
    return axes


def grid_from_dict(data: Mapping[str, Any], source: str = "grid", base_dir: Path | None = None) -> Grid:
    """Build and validate a :class:`Grid` from parsed TOML (see the module docstring and ``docs/sweeps.md``).

    Parameters
    ----------
    data : mapping
        The grid's fields.
    source : str
        Name used in errors and as the default sweep name (a file's stem).
    base_dir : Path, optional
        Directory a relative ``scenario`` path is read from (the grid file's).

    Raises
    ------
    GridError
        For an unknown or malformed field, an empty axis, or a cell that is
        not a valid scenario (the message names the cell and its values).
    """
    data = dict(data)
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        hint = f": {RESERVED[unknown[0]]}" if unknown[0] in RESERVED else ""
        raise GridError(
            f"unknown field {unknown[0]!r} in the grid (known: {', '.join(sorted(TOP_LEVEL))}){hint}"
        )
    name = str(data.get("name", Path(source).stem if source != "grid" else "sweep"))
    seed = _integer(data.get("seed", 0), "seed", 0, 2**63 - 1)
    replicates = _integer(data.get("replicates", 1), "replicates", 1, 100_000)
    confidence = data.get("confidence", 0.95)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise GridError(f"confidence must be a number between 0 and 1 (exclusive), got {confidence!r}")
    # the base scenario
    if "scenario" in data:
        path = data["scenario"]
        if not isinstance(path, str):
            raise GridError(f"scenario must be the path of a scenario file, got {path!r}")
        p = Path(path)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        base = scenario_mod.load(p)
    else:
        base = scenario_mod.default()
    base_dict = base.to_dict()
    base_dict["algorithms"] = []
    overrides = data.get("base", {})
    if not isinstance(overrides, dict):
        raise GridError(f"[base] must be a table of scenario fields, got {overrides!r}")
    for path, value in _flatten_base(overrides):
        check_path(path, f"base.{path}")
        try:
            assign(base_dict, path, value)
        except ScenarioError as e:
            raise GridError(f"base: {e}") from None
    axes = _axes(data.get("axes", {}))
    # algorithms, checked on the base pool here and on each cell's pool below
    algorithms = data.get("algorithms", list(base.to_dict()["algorithms"]))
    if not isinstance(algorithms, list):
        raise GridError(f"algorithms must be a list of names or tables, got {algorithms!r}")
    if not algorithms:
        from ..schedulers.registry import names

        algorithms = list(names())
    # the cells
    cells: list[Cell] = []
    specs_by_pool: dict[tuple[int, ...], tuple[scenario_mod.AlgorithmSpec, ...]] = {}
    for index, combo in enumerate(itertools.product(*(range(len(a.values)) for a in axes))):
        coords = tuple((a.path, a.values[i]) for a, i in zip(axes, combo))
        labels = tuple(a.labels[i] for a, i in zip(axes, combo))
        cell = Cell(index, coords, labels, base, tuple(combo))
        where = f"cell {index} ({cell.describe()})"
        d = copy.deepcopy(base_dict)
        try:
            for path, value in coords:
                assign(d, path, value)
            sc = scenario_mod.from_dict(d, name)
            specs = specs_by_pool.get(sc.weights)
            if specs is None:
                specs = specs_by_pool[sc.weights] = sc.with_algorithms(algorithms).algorithms
            sc = dataclasses.replace(sc, algorithms=specs, name=name)
            _check_events(sc)
        except (ScenarioError, ValueError, TypeError) as e:
            raise GridError(f"{where}: {e}") from None
        cells.append(dataclasses.replace(cell, scenario=sc))
    labels = tuple(s.label for s in cells[0].scenario.algorithms)
    report = data.get("report", {})
    if not isinstance(report, dict):
        raise GridError(f"[report] must be a table (x = axis, metrics = [...]), got {report!r}")
    unknown = sorted(set(report) - {"x", "metrics"})
    if unknown:
        raise GridError(f"unknown field report.{unknown[0]} (known: metrics, x)")
    x = report.get("x")
    if x is not None and x not in [a.path for a in axes]:
        raise GridError(
            f"report.x must be one of the axes ({', '.join(a.path for a in axes) or 'none'}), got {x!r}"
        )
    metrics = report.get("metrics", [])
    from ..report.tidy import METRIC

    if not isinstance(metrics, list) or any(m not in METRIC or not METRIC[m].summary for m in metrics):
        known = ", ".join(m.name for m in METRIC.values() if m.summary)
        raise GridError(f"report.metrics must be a list of metric names ({known}), got {metrics!r}")
    return Grid(
        name,
        seed,
        replicates,
        confidence,
        tuple(axes),
        tuple(cells),
        labels,
        base,
        x,
        tuple(metrics),
        source=_plain(data),
    )


def _check_events(sc: Scenario) -> None:
    """Check pool events against the cell's pool (backend ids), as :func:`lbalgo.compare` does first."""
    from ..report.compare import validate_events

    validate_events(sc.weights, sc.sim_events())


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the grid as JSON-able data (TOML values are already plain, apart from inf/nan floats)."""

    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return fix(dict(data))


def load_grid(path: str | Path) -> Grid:
    """Read and validate a sweep grid TOML file (``scenario`` paths are relative to it)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise GridError(f"cannot read sweep grid {p}: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise GridError(f"{p}: not valid TOML: {e}") from None
    return grid_from_dict(data, str(p), p.parent)


__all__ = [
    "Grid",
    "Axis",
    "Cell",
    "Run",
    "GridError",
    "load_grid",
    "grid_from_dict",
    "run_seed",
    "run_key",
    "assign",
    "check_path",
]

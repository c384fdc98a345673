"""Reading sweep grids: TOML files and parsed tables, checked and expanded into a :class:`~.grid.Grid`.

Every cell's scenario is built and validated here, when the grid is loaded,
and every error names the field or the cell, so a bad grid fails before any
work starts. The grid format is in :mod:`lbalgo.sweeps.grid` and
``docs/sweeps.md``.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import tomllib
from pathlib import Path
from typing import Any, Mapping

from .. import scenario as scenario_mod
from ..scenario import Scenario, ScenarioError
from ..scenario_file import from_dict, load
from .grid import (
    RESERVED,
    SECTION_FIELDS,
    Axis,
    Cell,
    Grid,
    GridError,
    assign,
    canonical,
    check_path,
    default_label,
)

#: The top-level keys of a grid file.
TOP_LEVEL = {"name", "seed", "replicates", "confidence", "algorithms", "scenario", "base", "axes", "report"}


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
            labels = [default_label(v) for v in values]
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
        base = load(p)
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
            sc = from_dict(d, name)
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


__all__ = ["TOP_LEVEL", "grid_from_dict", "load_grid"]

"""Sweep results: the tidy table, the summary across replicates, and the files they are written to.

The **table** has one row per (cell, replicate, algorithm), in grid order:
``cell``, one column per axis (named by its path, e.g. ``arrivals.load``),
``replicate``, ``seed``, ``algorithm``, ``scheduler``, ``family``, then every
metric of :data:`lbalgo.report.tidy.METRICS` (``connections_per_second`` only
with ``timing``). The **summary** has one row per (cell, algorithm, metric):
``n`` replicates with a value, ``mean``, ``std`` (ddof 1) and the bounds of a
Student-t confidence interval of the mean at the grid's ``confidence``
(``ci_low``, ``ci_high``; NaN with fewer than two values).

Tables are plain columns (``dict[str, list]``); Parquet goes through pyarrow
and CSV through the standard library, so neither needs pandas;
:meth:`SweepResult.to_pandas` gives DataFrames when pandas is installed.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from ..report.tidy import METRIC, METRICS, metric_names, require_pandas, row_record
from .grid import Grid, Run

if TYPE_CHECKING:  # pragma: no cover
    from ..report.results import Row
    from .run import SweepStats

ID_COLUMNS = ("replicate", "seed", "algorithm", "scheduler", "family")
SUMMARY_COLUMNS = ("metric", "n", "mean", "std", "ci_low", "ci_high")


def json_record(row: "Row") -> dict[str, Any]:
    """Return a comparison row as JSON-ready data: :func:`~lbalgo.report.tidy.row_record`, NaN as ``None``."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row_record(row).items()}


def _value(v: Any) -> Any:
    return math.nan if v is None else v


@dataclass(frozen=True, eq=False)
class SweepResult:
    """The finished runs of a sweep as tables, with the grid, what is missing and how it ran."""

    grid: Grid
    table: dict[str, list[Any]]
    timing: bool = False
    #: Runs not finished (after Ctrl-C), described with their cell, values and replicate.
    missing: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)
    stats: "SweepStats | None" = None

    @classmethod
    def from_records(
        cls,
        grid: Grid,
        runs: list[Run],
        records: Mapping[str, Mapping[str, Any]],
        *,
        timing: bool = False,
        stats: "SweepStats | None" = None,
    ) -> "SweepResult":
        """Assemble the table from journal records (by run key), in grid order whatever the finish order."""
        axes = grid.axes
        metrics = metric_names(timing)
        names = ["cell", *(a.path for a in axes), *ID_COLUMNS, *metrics]
        table: dict[str, list[Any]] = {n: [] for n in names}
        missing = []
        versions: dict[str, str] = {}
        for run in runs:
            record = records.get(run.key)
            if record is None:
                missing.append(run.describe())
                continue
            versions = dict(record.get("versions") or versions)
            for row in record["rows"]:
                table["cell"].append(run.cell.index)
                for axis, position in zip(axes, run.cell.positions):
                    table[axis.path].append(axis.column(position))
                table["replicate"].append(run.replicate)
                table["seed"].append(run.seed)
                for name in ("algorithm", "scheduler", "family"):
                    table[name].append(row[name])
                for name in metrics:
                    table[name].append(_value(row.get(name)))
        return cls(grid, table, timing, tuple(missing), versions, stats)

    # -- basic properties ------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """Whether every run finished."""
        return not self.missing

    @property
    def axis_columns(self) -> list[str]:
        """The axis column names, in grid order."""
        return [a.path for a in self.grid.axes]

    def __len__(self) -> int:
        return len(self.table["cell"])

    def rows(self) -> list[dict[str, Any]]:
        """Return the table as one dict per row."""
        names = list(self.table)
        return [dict(zip(names, values)) for values in zip(*self.table.values())]

    # -- summary ---------------------------------------------------------------------------
    @cached_property
    def summary(self) -> dict[str, list[Any]]:
        """Means and confidence intervals across replicates: one row per (cell, algorithm, metric).

        Columns: ``cell``, the axes, ``algorithm``, ``scheduler``, ``family``,
        ``metric``, ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``. Metrics
        without a value in any run (``moved`` without pool events, latency for
        the infinite server) are left out.
        """
        from scipy import stats

        metrics = [
            m
            for m in metric_names(self.timing)
            if METRIC[m].summary and any(not math.isnan(v) for v in self.table[m])
        ]
        keys = ["cell", *self.axis_columns, "algorithm", "scheduler", "family"]
        out: dict[str, list[Any]] = {k: [] for k in [*keys, *SUMMARY_COLUMNS]}
        groups: dict[tuple[int, str], list[int]] = {}
        for i, (cell, algorithm) in enumerate(zip(self.table["cell"], self.table["algorithm"])):
            groups.setdefault((cell, algorithm), []).append(i)
        level = self.grid.confidence
        for (_, _), index in groups.items():
            first = index[0]
            for m in metrics:
                values = np.array([self.table[m][i] for i in index], dtype=np.float64)
                values = values[~np.isnan(values)]
                n = int(values.size)
                mean = float(values.mean()) if n else math.nan
                std = float(values.std(ddof=1)) if n > 1 else math.nan
                if n > 1:
                    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
                    low, high = mean - half, mean + half
                else:
                    low = high = math.nan
                for k in keys:
                    out[k].append(self.table[k][first])
                for k, v in zip(SUMMARY_COLUMNS, (m, n, mean, std, low, high)):
                    out[k].append(v)
        return out

    # -- renderings ------------------------------------------------------------------------
    def to_csv(self) -> str:
        """Write the tidy table as CSV: a header, then a line per row (NaN empty, exact floats)."""
        return _csv(self.table)

    def summary_csv(self) -> str:
        """Write the summary as CSV (see :attr:`summary`)."""
        return _csv(self.summary)

    def to_arrow(self, summary: bool = False) -> Any:
        """Return the table (or the summary) as a :class:`pyarrow.Table` (pyarrow needed, pandas not)."""
        import pyarrow as pa

        columns = self.summary if summary else self.table
        return pa.table({name: _arrow_array(pa, values) for name, values in columns.items()})

    def to_pandas(self, summary: bool = False) -> Any:
        """Return the table (or the summary) as a :class:`pandas.DataFrame`; needs pandas."""
        pd = require_pandas()
        columns = self.summary if summary else self.table
        return pd.DataFrame({name: list(values) for name, values in columns.items()}, columns=list(columns))

    def to_html(self) -> str:
        """Render the self-contained HTML report: each metric against the swept parameter, the summary."""
        from ..report.html import sweep_html

        return sweep_html(self)

    def plots(self) -> dict[str, str]:
        """Standalone SVG documents, one per plotted metric (``{metric: svg}``)."""
        from ..report.html import sweep_svgs

        return sweep_svgs(self)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write the tables, the report and the plots into ``directory``; return the paths by name.

        The files: ``results.parquet``, ``results.csv``, ``summary.parquet``,
        ``summary.csv``, ``report.html`` and ``plots/<metric>.svg``. Each is
        written to a temporary name and renamed, so an interrupted write never
        leaves a truncated table behind.
        """
        import pyarrow.parquet as pq

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}

        def put(name: str, data: str | None = None, table: Any = None) -> None:
            path = d / name
            tmp = path.with_name(path.name + ".tmp")
            if table is not None:
                pq.write_table(table, tmp)
            else:
                tmp.write_text(data or "", encoding="utf-8")
            tmp.replace(path)
            paths[name] = path

        put("results.parquet", table=self.to_arrow())
        put("results.csv", self.to_csv())
        put("summary.parquet", table=self.to_arrow(summary=True))
        put("summary.csv", self.summary_csv())
        put("report.html", self.to_html())
        plots = self.plots()
        if plots:
            (d / "plots").mkdir(exist_ok=True)
            for metric, svg in plots.items():
                put(f"plots/{metric}.svg", svg)
        return paths

    def describe(self) -> str:
        """One line: what ran, what was reused, how long it took."""
        g, s = self.grid, self.stats
        runs = len(g.cells) * g.replicates
        text = (
            f"sweep {g.name}: {len(g.cells)} cells x {g.replicates} replicates x {len(g.algorithms)} "
            f"algorithms = {runs * len(g.algorithms):,} comparisons"
        )
        if s is not None:
            if s.ran:
                text += (
                    f"; {s.ran} runs in {s.wall_seconds:.1f} s on {s.workers} worker{'s' * (s.workers != 1)}"
                )
            if s.reused:
                text += f"; {s.reused} reused from the journal"
        if self.missing:
            text += f"; {len(self.missing)} not run"
        return text


def _arrow_array(pa: Any, values: list[Any]) -> Any:
    """One column: int64, float64 (NaN kept), bool or string, by the values it holds."""
    if values and all(isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.bool_())
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return pa.array(values, type=pa.int64())
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values):
        return pa.array(np.asarray(values, dtype=np.float64), type=pa.float64())
    return pa.array([str(v) for v in values], type=pa.string())


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _csv(columns: Mapping[str, list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(columns))
    for values in zip(*columns.values()):
        w.writerow([_cell(v) for v in values])
    return buf.getvalue()


__all__ = ["SweepResult", "json_record", "ID_COLUMNS", "SUMMARY_COLUMNS", "METRICS"]

"""One flat record per algorithm: the metrics of a comparison row, named and explained once.

The HTML report (:mod:`lbalgo.report.html`), :meth:`Comparison.to_pandas
<lbalgo.report.results.Comparison.to_pandas>` and the sweep tables
(:mod:`lbalgo.sweeps`) all read the metrics of a
:class:`~lbalgo.report.results.Row` through :func:`row_record`, and their
column explanations through :data:`METRICS`, so a metric means the same thing
in every output. The meanings follow ``docs/cli.md`` (*What is measured*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .results import Comparison, Row


@dataclass(frozen=True)
class Metric:
    """A column of the tidy tables.

    Parameters
    ----------
    name : str
        Column name (a valid Python identifier, so DataFrame attribute access works).
    header : str
        Short heading for rendered tables.
    description : str
        One sentence: what the column measures.
    best : {"min", "max", None}
        Which direction is better (``None``: neither, e.g. a count of offered connections).
    unit : {"share", "seconds", "count", "number", "rate"}
        How values are formatted: a share as a percentage, seconds with a unit,
        a count as an integer, a rate in millions.
    needs : {None, "events", "queued", "timing"}
        When the metric exists: only with pool events, only for queued service
        models, only when speed is measured; ``None``: always.
    summary : bool
        Whether sweeps summarize it across replicates (means and confidence intervals).
    """

    name: str
    header: str
    description: str
    best: str | None
    unit: str
    needs: str | None = None
    summary: bool = True

    def format(self, value: float) -> str:
        """Format the value as a table cell (``-`` for NaN)."""
        return format_value(value, self.unit)


#: Every per-algorithm metric, in table order.
METRICS: tuple[Metric, ...] = (
    Metric(
        "connections",
        "connections",
        "connections offered to the algorithm (scheduled + dropped)",
        None,
        "count",
        summary=False,
    ),
    Metric("dropped", "dropped (count)", "connections no backend would take", "min", "count", summary=False),
    Metric("dropped_share", "dropped", "dropped connections as a share of those offered", "min", "share"),
    Metric(
        "max_deviation",
        "max dev",
        "largest |share / target - 1| over backends with a target; the target is "
        "the weight-proportional share, following the weights through the pool events",
        "min",
        "share",
    ),
    Metric(
        "jain",
        "Jain",
        "Jain's fairness index of connections per unit of target (1 = proportional, "
        "1/n = all on one backend)",
        "max",
        "number",
    ),
    Metric(
        "cov",
        "CoV",
        "coefficient of variation of connections per unit of target (0 = proportional)",
        "min",
        "number",
    ),
    Metric(
        "chi2_pvalue",
        "χ² p",
        "p-value of Pearson's chi-square test of the counts against the target "
        "(tiny = not weight-proportional)",
        "max",
        "number",
    ),
    Metric(
        "load_max_over_mean",
        "load max/mean",
        "time-averaged open connections per unit of weight: the "
        "busiest backend over the mean (1 = every backend loaded as its weight)",
        "min",
        "number",
    ),
    Metric(
        "sticky",
        "sticky",
        "share of repeat connections that reached the backend of the same client's previous connection",
        "max",
        "share",
    ),
    Metric(
        "moved",
        "moved",
        "mean over pool events of the share of returning clients sent to another backend",
        "min",
        "share",
        needs="events",
    ),
    Metric(
        "must_move",
        "had to move",
        "mean over pool events of the share of returning clients whose backend "
        "became unavailable (what a perfectly sticky policy would still move)",
        None,
        "share",
        needs="events",
    ),
    Metric(
        "latency_mean",
        "mean latency",
        "mean time in the system (queue + service)",
        "min",
        "seconds",
        needs="queued",
    ),
    Metric(
        "latency_p50", "p50", "median time in the system (queue + service)", "min", "seconds", needs="queued"
    ),
    Metric(
        "latency_p90", "p90", "90th percentile of the time in the system", "min", "seconds", needs="queued"
    ),
    Metric(
        "latency_p99", "p99", "99th percentile of the time in the system", "min", "seconds", needs="queued"
    ),
    Metric(
        "latency_p999",
        "p99.9",
        "99.9th percentile of the time in the system",
        "min",
        "seconds",
        needs="queued",
    ),
    Metric(
        "connections_per_second",
        "Mconn/s",
        "connections replayed per second of the compiled event loop (measured: varies from run to run)",
        "max",
        "rate",
        needs="timing",
    ),
)
METRIC = {m.name: m for m in METRICS}
#: Latency keys of ``Row.latency`` behind the ``latency_*`` metrics.
_LATENCY = {
    "latency_mean": "mean",
    "latency_p50": "p50",
    "latency_p90": "p90",
    "latency_p99": "p99",
    "latency_p999": "p99.9",
}


def family(scheduler: str) -> str:
    """Return the family of a registered scheduler (``Linux IPVS``, ``kube-proxy``, ...), or ``other``."""
    from ..schedulers.registry import SCHEDULERS

    cls = SCHEDULERS.get(scheduler)
    return str(getattr(cls, "family", "") or "other")


def row_record(row: "Row", timing: bool = True) -> dict[str, Any]:
    """Flatten one comparison row: ``algorithm``, ``scheduler``, ``family``, then each of :data:`METRICS`.

    Floats are plain Python floats (NaN where a metric does not apply: ``moved``
    without pool events, ``latency_*`` for the infinite server); counts are
    ints. ``connections_per_second`` is present only with ``timing``.
    """
    offered = row.connections
    events = [d for d in row.disruption if not math.isnan(d.must_move)]
    values: dict[str, Any] = {
        "algorithm": row.algorithm,
        "scheduler": row.scheduler,
        "family": family(row.scheduler),
        "connections": int(offered),
        "dropped": int(row.dropped),
        "dropped_share": row.dropped / offered if offered else math.nan,
        "max_deviation": float(row.max_deviation),
        "jain": float(row.jain),
        "cov": float(row.cov),
        "chi2_pvalue": float(row.chi2_pvalue),
        "load_max_over_mean": float(row.load_max_over_mean),
        "sticky": float(row.sticky),
        "moved": float(row.moved),
        "must_move": float(np.mean([d.must_move for d in events])) if events else math.nan,
    }
    for name, key in _LATENCY.items():
        values[name] = float(row.latency[key]) if row.latency is not None else math.nan
    if timing:
        values["connections_per_second"] = float(row.connections_per_second)
    return values


def metric_names(timing: bool) -> list[str]:
    """Names of :data:`METRICS` in order, ``connections_per_second`` only with ``timing``."""
    return [m.name for m in METRICS if timing or m.needs != "timing"]


def applicable(c: "Comparison", timing: bool) -> list[Metric]:
    """Return the metrics that mean something for this comparison (events, queued model, timing)."""
    ok: dict[str | None, Callable[[], bool]] = {
        None: lambda: True,
        "events": lambda: bool(c.event_times),
        "queued": lambda: c.queued,
        "timing": lambda: timing,
    }
    return [m for m in METRICS if ok[m.needs]()]


def comparison_columns(c: "Comparison", timing: bool = True) -> dict[str, list[Any]]:
    """Columns of one row per algorithm: ``algorithm``, ``scheduler``, ``family`` and every metric."""
    names = ["algorithm", "scheduler", "family"] + metric_names(timing)
    records = [row_record(r, timing) for r in c.rows]
    return {name: [rec[name] for rec in records] for name in names}


PANDAS_MISSING = "DataFrames need pandas, which is not installed: pip install pandas"


def require_pandas() -> Any:
    """Import pandas lazily, or raise a :class:`RuntimeError` saying how to install it."""
    try:
        import pandas
    except ImportError:
        raise RuntimeError(PANDAS_MISSING) from None
    return pandas


def format_value(value: float, unit: str) -> str:
    """Format a metric value for a table: percentages, durations, counts or plain numbers; NaN as ``-``."""
    if value is None:
        return "-"
    v = float(value)
    if math.isnan(v):
        return "-"
    if unit == "share":
        return f"{100 * v:.2f}%"
    if unit == "count":
        return f"{int(v):,}"
    if unit == "rate":
        return f"{v / 1e6:.2f}"
    if unit == "seconds":
        if abs(v) >= 100:
            return f"{v:.0f} s"
        for suffix, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
            if abs(v) >= scale or suffix == "µs":
                return f"{v / scale:.3g} {suffix}"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        return f"{v:.3g}"
    return f"{v:.4f}"


__all__ = [
    "Metric",
    "METRICS",
    "METRIC",
    "row_record",
    "metric_names",
    "applicable",
    "comparison_columns",
    "family",
    "format_value",
    "require_pandas",
    "PANDAS_MISSING",
]

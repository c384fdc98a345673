"""Renderings of a :class:`~lbalgo.report.results.Comparison`.

One function per output, each taking the comparison first:
:func:`to_text` (terminal tables), :func:`to_markdown`, :func:`to_dict` and
:func:`to_json` (plain data), :func:`to_csv` (long form), :func:`to_html`
(one self-contained page, :mod:`lbalgo.report.html`), :func:`to_pandas`
(:mod:`lbalgo.report.tidy`) and :func:`plot` (PNG, :mod:`lbalgo.report.plots`).
The methods of the same names on :class:`~lbalgo.report.results.Comparison`
call these.

Every rendering takes ``timing``: with ``timing=False`` the speed is left
out, and the output is byte-identical for the same scenario, seed and
install. The columns are defined in ``docs/cli.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .. import metrics
from ._format import (
    aligned,
    csv_number,
    duration,
    events_line,
    interrupted_note,
    markdown_table,
    percent,
    rounded,
    title_line,
    versions_line,
)

if TYPE_CHECKING:  # pragma: no cover
    from .results import Comparison, Row

#: Latency percentiles written in the JSON report, in seconds.
LATENCY_KEYS = ("mean", "p50", "p90", "p99", "p99.9")
#: Columns of :func:`to_csv`, in order (``connections_per_second`` only with ``timing``).
CSV_COLUMNS = ("algorithm", "scheduler", "backend", "connections", "share", "target_share",
               "relative_deviation", "dropped", "max_deviation", "jain", "cov", "chi2_pvalue",
               "load_max_over_mean", "sticky", "moved", "latency_p50", "latency_p99",
               "connections_per_second")


# -- tables --------------------------------------------------------------------------------
def summary_table(c: Comparison, timing: bool, markdown: bool) -> tuple[list[str], list[list[str]]]:
    """Return the header and cells of the summary table; ``*`` marks the best printed value per column."""
    cols: list[tuple[str, Callable[[Row], float], Callable[[float], str], str]] = [
        ("max dev", lambda r: r.max_deviation, percent, "min"),
        ("Jain", lambda r: r.jain, lambda v: f"{v:.4f}", "max"),
        ("load max/mean", lambda r: r.load_max_over_mean, lambda v: f"{v:.3f}", "min"),
        ("sticky", lambda r: r.sticky, percent, "max"),
    ]
    if c.scenario.events:
        cols.append(("moved", lambda r: r.moved, percent, "min"))
    if c.queued:
        cols += [("p50", lambda r: r.latency["p50"], duration, "min"),  # type: ignore[index]
                 ("p99", lambda r: r.latency["p99"], duration, "min")]  # type: ignore[index]
    cols.append(("dropped", lambda r: r.dropped / max(r.connections, 1), percent, "min"))
    if timing:
        cols.append(("Mconn/s", lambda r: r.connections_per_second / 1e6, lambda v: f"{v:.2f}", "max"))
    head = ["algorithm"] + [col[0] for col in cols]
    body = [[f"`{r.algorithm}`" if markdown else r.algorithm] for r in c.rows]
    for _, value, fmt, best in cols:
        values = [value(r) for r in c.rows]
        printed = [fmt(v) for v in values]
        finite = [(v, p) for v, p in zip(values, printed) if not math.isnan(v)]
        # "Best" compares the values as printed, so rows that look equal are all marked.
        top = (min if best == "min" else max)(finite, key=lambda vp: vp[0])[1] if finite else None
        for cells, p in zip(body, printed):
            cells.append(p + ("*" if p == top and len(c.rows) > 1 else (" " if not markdown else "")))
    return head, body


def shares_table(c: Comparison, markdown: bool) -> tuple[list[str], list[list[str]]]:
    """Return the header and cells of the table of shares per backend (%), the target first."""
    n = c.n_backends
    head = ["algorithm"] + [f"b{i}" for i in range(n)]
    target = c.rows[0].target_shares if c.rows else metrics.weight_shares(c.scenario.weights)
    body = [["*target*" if markdown else "target"] + [f"{100 * x:.2f}" for x in target]]
    for r in c.rows:
        body.append([f"`{r.algorithm}`" if markdown else r.algorithm] + [f"{100 * x:.2f}" for x in r.shares])
    return head, body


# -- text and Markdown -------------------------------------------------------------------------
def to_text(c: Comparison, timing: bool = True) -> str:
    """Render terminal tables: a summary (``*`` = best value per column), then shares per backend (%).

    ``timing=False`` leaves out the ``Mconn/s`` column (connections replayed per second).
    """
    out = [title_line(c)]
    if c.event_times:
        out.append(events_line(c))
    if c.versions:
        out.append(versions_line(c))
    out += ["", *aligned(*summary_table(c, timing, False)), "", "share of connections per backend (%):",
            *aligned(*shares_table(c, False)), "",
            "max dev: largest |share/target - 1|; "
            "Jain: fairness of connections per unit of target (1 = ideal);",
            "load max/mean: busiest backend's time-averaged open connections per weight over the mean;",
            "sticky: repeat connections that reached the client's previous backend"
            + ("; moved: returning clients sent elsewhere after a pool event" if c.scenario.events else "")
            + (";\np50/p99: time in the system (queue + service)" if c.queued else "")
            + "; * = best. Columns: docs/cli.md"]
    if c.missing:
        out.append(interrupted_note(c))
    return "\n".join(out) + "\n"


def to_markdown(c: Comparison, timing: bool = True) -> str:
    """Render Markdown: the same two tables as :func:`to_text` (``timing`` as there)."""
    sc = c.scenario
    lines = [f"### Scenario `{sc.name}`", "", f"Weights {list(sc.weights)}; {sc.describe()}."]
    if c.event_times:
        events = events_line(c)
        lines[-1] += " " + events[0].upper() + events[1:] + "."
    if c.versions:
        lines[-1] += f" Run with {versions_line(c)}."
    lines += ["", *markdown_table(*summary_table(c, timing, True)), "",
              "Share of connections per backend (%):", "", *markdown_table(*shares_table(c, True))]
    if c.missing:
        lines += ["", interrupted_note(c)]
    return "\n".join(lines) + "\n"


# -- data ----------------------------------------------------------------------------------
def to_dict(c: Comparison, timing: bool = True) -> dict:
    """Return plain data with stable keys (documented in docs/cli.md; speed only with ``timing``).

    Keys: ``scenario`` (the whole scenario, defaults filled in),
    ``versions``, ``missing`` (algorithms not run after an interruption),
    ``events`` (``time`` in seconds, ``action``, ``backend``: for ``add``
    the id it creates) and
    ``results``: per algorithm ``algorithm``, ``scheduler``, ``counts``,
    ``target_shares``, ``dropped``, ``max_deviation``, ``jain``, ``cov``,
    ``chi2_pvalue``, ``load_max_over_mean``, ``sticky``, ``disruption`` (per event:
    ``time``, ``clients``, ``moved``, ``must_move``), ``latency`` (``mean``,
    ``p50``, ``p90``, ``p99``, ``p99.9`` in seconds, or ``null``) and,
    with ``timing``, ``connections_per_second``. Floats are rounded to 12
    significant digits; NaN is written as ``null``.
    """
    results = []
    for r in c.rows:
        item: dict[str, Any] = {
            "algorithm": r.algorithm, "scheduler": r.scheduler, "counts": list(r.counts),
            "target_shares": [rounded(x) for x in r.target_shares], "dropped": r.dropped,
            "max_deviation": rounded(r.max_deviation), "jain": rounded(r.jain), "cov": rounded(r.cov),
            "chi2_pvalue": rounded(r.chi2_pvalue),
            "load_max_over_mean": rounded(r.load_max_over_mean), "sticky": rounded(r.sticky),
            "disruption": [{"time": rounded(d.time), "clients": d.clients, "moved": rounded(d.moved),
                            "must_move": rounded(d.must_move)} for d in r.disruption],
            "latency": None if r.latency is None else {k: rounded(r.latency[k]) for k in LATENCY_KEYS},
        }
        if timing:
            item["connections_per_second"] = round(r.connections_per_second)
        results.append(item)
    return {"scenario": c.scenario.to_dict(), "versions": dict(c.versions), "missing": list(c.missing),
            "events": [{"time": rounded(t), "action": a, "backend": b} for t, a, b in c.event_times],
            "results": results}


def to_json(c: Comparison, timing: bool = True) -> str:
    """Render :func:`to_dict` as JSON (keys sorted, two-space indent)."""
    return json.dumps(to_dict(c, timing), indent=2, sort_keys=True, allow_nan=False) + "\n"


def to_csv(c: Comparison, timing: bool = True) -> str:
    r"""Render CSV in long form: a header, then one row per algorithm and backend (see :data:`CSV_COLUMNS`).

    ``backend`` is the backend id; ``connections`` those sent to it;
    ``share`` their fraction of the algorithm's scheduled connections;
    ``target_share`` the weight-proportional fraction;
    ``relative_deviation`` is ``share / target_share - 1`` (empty for a
    target of 0). The algorithm's summary repeats on each of its rows:
    ``dropped``, ``max_deviation``, ``jain``, ``cov``, ``chi2_pvalue``,
    ``load_max_over_mean``, ``sticky``, ``moved`` (mean over pool events; empty without events),
    ``latency_p50`` / ``latency_p99`` in seconds (empty for the infinite
    server) and, only when ``timing``, ``connections_per_second``.
    Floats have 12 significant digits; lines end with ``\n``.
    """
    columns = CSV_COLUMNS if timing else CSV_COLUMNS[:-1]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in c.rows:
        lat = r.latency or {}
        summary = [r.dropped, csv_number(r.max_deviation), csv_number(r.jain), csv_number(r.cov),
                   csv_number(r.chi2_pvalue), csv_number(r.load_max_over_mean), csv_number(r.sticky),
                   csv_number(r.moved), csv_number(lat.get("p50", math.nan)),
                   csv_number(lat.get("p99", math.nan))]
        summary += [round(r.connections_per_second)] if timing else []
        for b, (count, share, target) in enumerate(zip(r.counts, r.shares, r.target_shares)):
            deviation = csv_number(share / target - 1.0) if target > 0 else ""
            w.writerow([r.algorithm, r.scheduler, b, count, csv_number(share), csv_number(target), deviation]
                       + summary)
    return buf.getvalue()


# -- pages, tables and plots (their modules load on first use) -----------------------------
def to_html(c: Comparison, timing: bool = True) -> str:
    """Render one self-contained HTML page: sortable tables, column notes and SVG plots.

    The page loads nothing from the network (:mod:`lbalgo.report.html`);
    ``timing`` as in :func:`to_text`.
    """
    from .html import comparison_html

    return comparison_html(c, timing)


def to_pandas(c: Comparison, timing: bool = True) -> Any:
    """Return a :class:`pandas.DataFrame` with one row per algorithm (needs pandas).

    Columns: ``algorithm``, ``scheduler``, ``family`` and every metric of
    :data:`lbalgo.report.tidy.METRICS`.
    """
    from .tidy import comparison_columns, require_pandas

    return require_pandas().DataFrame(comparison_columns(c, timing))


def plot(c: Comparison, path: str | Path, kinds: Sequence[str] | None = None) -> list[str]:
    """Write a PNG report; return the sections drawn (see :mod:`lbalgo.report.plots`).

    Sections: ``shares`` (per backend, against the target), ``active``
    (open connections over time), ``latency`` (CDF; queued models only)
    and ``disruption`` (per pool event; only with events). Needs
    matplotlib (``pip install lbalgo[plot]``); raises :class:`RuntimeError`
    saying so when it is missing.
    """
    from .plots import plot_comparison

    return plot_comparison(c, path, kinds)


__all__ = ["CSV_COLUMNS", "LATENCY_KEYS", "plot", "shares_table", "summary_table", "to_csv", "to_dict",
           "to_html", "to_json", "to_markdown", "to_pandas", "to_text"]

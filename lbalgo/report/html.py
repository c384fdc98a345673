"""Self-contained HTML reports of comparisons and sweeps.

One file, no network request: the style sheet and the script are inline, the
plots are inline SVG drawn by :mod:`lbalgo.report.svg`, and a
Content-Security-Policy ``<meta>`` forbids the page from loading anything.

A comparison report (:func:`comparison_html`, ``Comparison.to_html()``,
``lbalgo compare --format html``) holds the summary table (sortable: click a
heading; best value per column highlighted), a short explanation of each
column, the shares table coloured by deviation from the target, and the plots:

- shares of connections against the target, one small panel per algorithm;
- open connections per backend over time, one small panel per algorithm,
  dashed lines at the pool events;
- the latency CDF, one panel per scheduler family (queued models);
- disruption at each pool event: the share of returning clients each
  algorithm moved, and the share that had to move.

Panels are grouped by family (Linux IPVS, kube-proxy, Envoy, nginx, HAProxy,
...) instead of drawing every algorithm in one crowded chart; pointing at a
legend entry highlights that series in every panel of the figure.

A sweep report (:func:`sweep_html`) plots each metric against the swept
parameter (mean over replicates with its confidence band), one panel per
value of the other axes, and gives the summary as a sortable table.
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ._format import events_line, versions_line
from .results import CDF_PROBABILITIES, Comparison
from .svg import Panel, by_groups, compose, padded, palette
from .tidy import METRIC, Metric, applicable, format_value, row_record

if TYPE_CHECKING:  # pragma: no cover
    from ..sweeps.results import SweepResult

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

STYLE = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--head:#f9fafb;--best:#dcfce7;--accent:#1d4ed8}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1480px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:18px;margin:34px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:22px 0 4px}
h4{font-size:13px;margin:14px 0 4px;color:var(--muted);font-weight:600}
p{margin:4px 0}
.meta{color:var(--muted);font-size:13px}
nav{margin:12px 0;font-size:13px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}
.note{background:#fef3c7;border:1px solid #f59e0b;border-radius:6px;padding:8px 12px;margin:12px 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px;margin:6px 0}
th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.txt,th.txt{text-align:left}
thead th{position:sticky;top:0;background:var(--head);z-index:1}
table.sortable thead tr:first-child th{cursor:pointer;user-select:none}
table.sortable thead tr:first-child th:hover{background:#eef2ff}
th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
tr.target td{font-style:italic;background:#f3f4f6}
td.best{background:var(--best);font-weight:600}
tbody tr:hover td{background:#f5f7ff}
tbody tr:hover td.best{background:#bbf7d0}
dl.cols{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;margin:8px 0}
dl.cols dt{font-weight:600}
dl.cols dd{margin:0;color:#374151}
.fig{margin:8px 0 18px}
.cap{color:var(--muted);font-size:13px;margin:0 0 6px}
.panels{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:flex-start}
.panel{display:inline-block}
.panel svg{display:block}
ul.legend{list-style:none;padding:0;margin:4px 0 6px;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px}
ul.legend li{cursor:default;white-space:nowrap}
ul.legend .sw{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:-1px;
  border-radius:2px}
.panel ul.legend{max-width:380px}
.fig.hl [data-s]{opacity:.12}
.fig.hl [data-s].on{opacity:1}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""

SCRIPT = """
(function(){
  function key(row,i){var c=row.cells[i];if(!c)return "";var v=c.getAttribute("data-v");
    if(v===null)return c.textContent.trim().toLowerCase();return v===""?NaN:parseFloat(v);}
  document.querySelectorAll("table.sortable").forEach(function(t){
    var heads=t.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads,function(th,i){
      th.setAttribute("tabindex","0");
      function sort(){
        var asc=th.getAttribute("aria-sort")!=="ascending";
        Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
        th.setAttribute("aria-sort",asc?"ascending":"descending");
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
          if(typeof x==="number"&&typeof y==="number"){
            if(isNaN(x)&&isNaN(y))return 0;if(isNaN(x))return 1;if(isNaN(y))return -1;return asc?x-y:y-x;}
          x=String(x);y=String(y);return asc?x.localeCompare(y):y.localeCompare(x);});
        rows.forEach(function(r){body.appendChild(r);});
      }
      th.addEventListener("click",sort);
      th.addEventListener("keydown",function(e){
        if(e.key==="Enter"||e.key===" "){e.preventDefault();sort();}});
    });
  });
  document.querySelectorAll(".fig").forEach(function(fig){
    fig.querySelectorAll("ul.legend li[data-s]").forEach(function(li){
      li.addEventListener("mouseenter",function(){
        var s=li.getAttribute("data-s");fig.classList.add("hl");
        fig.querySelectorAll("[data-s]").forEach(function(e){e.classList.toggle("on",e.getAttribute("data-s")===s);});
      });
      li.addEventListener("mouseleave",function(){fig.classList.remove("hl");});
    });
  });
})();
"""


def page(title: str, body: str) -> str:
    """Wrap ``body`` in a complete HTML document with the report's style sheet, script and CSP."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n"
        f"</main><script>{SCRIPT}</script></body></html>\n"
    )


# -- building blocks -------------------------------------------------------------------------
def _num_attr(v: Any) -> str:
    """Return the ``data-v`` sort key of a numeric cell ("" for NaN)."""
    if v is None:
        return ""
    x = float(v)
    return "" if math.isnan(x) else repr(x)


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    """``<ul class="legend">`` of (label, colour); each entry highlights its series on hover."""
    items = "".join(
        f'<li data-s="{escape(label)}"><span class="sw" style="background:{color}"></span>'
        f"{escape(label)}</li>"
        for label, color in entries
    )
    return f'<ul class="legend">{items}</ul>'


def _figure(fid: str, title: str, caption: str, body: str, legend: Sequence[tuple[str, str]] = ()) -> str:
    return (
        f'<section class="fig" id="{fid}"><h3>{escape(title)}</h3><p class="cap">{caption}</p>'
        f"{_legend(legend) if legend else ''}{body}</section>"
    )


def _panels(items: Sequence[str]) -> str:
    return '<div class="panels">' + "".join(f'<div class="panel">{x}</div>' for x in items) + "</div>"


def _explanations(metrics: Sequence[Metric]) -> str:
    items = "".join(
        f"<dt>{escape(m.header)}</dt><dd>{escape(m.description)}"
        f"{' (lower is better)' if m.best == 'min' else ' (higher is better)' if m.best == 'max' else ''}"
        "</dd>"
        for m in metrics
    )
    return f'<dl class="cols">{items}</dl>'


def _yunit(m: Metric) -> str:
    return {"share": "%", "seconds": "s"}.get(m.unit, "")


# -- comparisons -----------------------------------------------------------------------------
#: Columns of the comparison summary table, in order (those that apply are shown).
SUMMARY_METRICS = (
    "max_deviation",
    "jain",
    "cov",
    "chi2_pvalue",
    "load_max_over_mean",
    "sticky",
    "moved",
    "must_move",
    "latency_mean",
    "latency_p50",
    "latency_p99",
    "latency_p999",
    "dropped_share",
    "connections_per_second",
)


def comparison_html(c: Comparison, timing: bool = True) -> str:
    """Render the HTML report of a comparison (see the module docstring); ``timing=False`` drops the speed."""
    sc = c.scenario
    shown = {m.name for m in applicable(c, timing)}
    metrics = [METRIC[n] for n in SUMMARY_METRICS if n in shown]
    records = [row_record(r, timing) for r in c.rows]
    fam_of = {rec["algorithm"]: rec["family"] for rec in records}
    families = by_groups([r.algorithm for r in c.rows], fam_of.__getitem__)
    parts = [
        f"<h1>lbalgo comparison: scenario {escape(sc.name)}</h1>",
        f"<p>Weights {escape(str(list(sc.weights)))}; {escape(sc.describe())}.</p>",
    ]
    if c.event_times:
        parts.append(f"<p>{escape(events_line(c))}.</p>")
    if c.versions:
        parts.append(f'<p class="meta">Run with {escape(versions_line(c))}.</p>')
    if c.missing:
        parts.append(
            f'<p class="note">Interrupted: {len(c.rows)} of {len(c.rows) + len(c.missing)} algorithms '
            f"ran; not run: {escape(', '.join(c.missing))}.</p>"
        )
    if not c.rows:
        return page(f"lbalgo comparison: {sc.name}", "\n".join(parts))
    figures = [("shares", "Shares against target"), ("active", "Open connections over time")]
    if c.queued:
        figures.append(("latency", "Latency CDF"))
    if c.event_times:
        figures.append(("disruption", "Disruption at pool events"))
    toc = [("summary", "Summary"), ("columns", "Columns"), ("shares-table", "Shares per backend")] + figures
    parts.append("<nav>" + "".join(f'<a href="#{i}">{escape(t)}</a>' for i, t in toc) + "</nav>")
    parts.append('<h2 id="summary">Summary</h2>' + _summary_table(c, records, metrics))
    parts.append(
        '<h2 id="columns">Columns</h2><p class="cap">Click a heading to sort; highlighted cells are the best '
        "value of their column. Definitions: docs/cli.md.</p>" + _explanations(metrics)
    )
    parts.append(
        '<h2 id="shares-table">Shares per backend</h2><p class="cap">Share of each algorithm\'s scheduled '
        "connections per backend (%), beside the weight-proportional target; red cells are above the target, "
        "blue below, stronger for larger deviations.</p>" + _shares_table(c)
    )
    parts.append('<h2 id="plots">Plots</h2>')
    parts.append(_shares_figure(c, families))
    parts.append(_active_figure(c, families))
    if c.queued:
        parts.append(_latency_figure(c, families))
    if c.event_times:
        parts.append(_disruption_figure(c, records))
    parts.append(
        "<footer>Written by lbalgo. This file is self-contained: it loads nothing from the network.</footer>"
    )
    return page(f"lbalgo comparison: {sc.name}", "\n".join(parts))


def _summary_table(c: Comparison, records: list[dict[str, Any]], metrics: Sequence[Metric]) -> str:
    best: dict[str, str | None] = {}
    for m in metrics:
        printed = [(rec[m.name], m.format(rec[m.name])) for rec in records if not math.isnan(rec[m.name])]
        if m.best is None or len(records) < 2 or not printed:
            best[m.name] = None
            continue
        best[m.name] = (min if m.best == "min" else max)(printed, key=lambda vp: vp[0])[1]
    head = '<th class="txt">algorithm</th><th class="txt">family</th>' + "".join(
        f'<th title="{escape(m.description)}">{escape(m.header)}</th>' for m in metrics
    )
    rows = []
    for rec in records:
        cells = [
            f'<td class="txt">{escape(rec["algorithm"])}</td><td class="txt">{escape(rec["family"])}</td>'
        ]
        for m in metrics:
            text = m.format(rec[m.name])
            mark = ' class="best"' if best[m.name] is not None and text == best[m.name] else ""
            cells.append(f'<td{mark} data-v="{_num_attr(rec[m.name])}">{escape(text)}</td>')
        rows.append(f'<tr data-algorithm="{escape(rec["algorithm"])}">{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table class="sortable" id="summary-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _deviation_style(share: float, target: float) -> str:
    if target <= 0:
        return "background:rgba(225,87,89,.55)" if share > 0 else ""
    d = share / target - 1.0
    a = min(abs(d) / 0.5, 1.0) * 0.55
    if a < 0.02:
        return ""
    return f"background:rgba(225,87,89,{a:.2f})" if d > 0 else f"background:rgba(78,121,167,{a:.2f})"


def _shares_table(c: Comparison) -> str:
    n = c.n_backends
    target = c.rows[0].target_shares
    head = '<th class="txt">algorithm</th>' + "".join(f"<th>b{i}</th>" for i in range(n))
    target_row = (
        '<tr class="target"><td class="txt">target</td>'
        + "".join(f"<td>{100 * t:.2f}</td>" for t in target)
        + "</tr>"
    )
    rows = []
    for r in c.rows:
        cells = [f'<td class="txt">{escape(r.algorithm)}</td>']
        for b, (s, t) in enumerate(zip(r.shares, r.target_shares)):
            tip = f"b{b}: {100 * s:.2f}% (target {100 * t:.2f}%" + (
                f", {100 * (s / t - 1):+.1f}%)" if t > 0 else ")"
            )
            style = _deviation_style(float(s), float(t))
            cells.append(
                f'<td data-v="{float(s)!r}" title="{tip}"'
                + (f' style="{style}"' if style else "")
                + f">{100 * s:.2f}</td>"
            )
        rows.append(f'<tr data-algorithm="{escape(r.algorithm)}">{"".join(cells)}</tr>')
    return (
        '<div class="scroll"><table class="sortable" id="shares-table-data">'
        f"<thead><tr>{head}</tr>{target_row}"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _by_family(families: dict[str, list[str]], panels: dict[str, str]) -> str:
    return "".join(
        f"<h4>{escape(fam)}</h4>" + _panels([panels[a] for a in algs]) for fam, algs in families.items()
    )


def _shares_figure(c: Comparison, families: dict[str, list[str]]) -> str:
    n = c.n_backends
    top = max(
        max(float(np.max(r.shares)) if len(r.counts) else 0.0, float(np.max(r.target_shares))) for r in c.rows
    )
    x = np.arange(n)
    panels = {}
    for r in c.rows:
        p = Panel(
            title=f"{r.algorithm} · max dev {format_value(r.max_deviation, 'share')}",
            xcats=[f"b{i}" for i in range(n)],
            y=(0, top * 1.08),
            yunit="%",
            width=260,
            height=150,
        )
        p.bars(
            x,
            r.shares,
            "#4e79a7",
            tips=[
                f"b{i}: {100 * s:.2f}% (target {100 * t:.2f}%)"
                for i, (s, t) in enumerate(zip(r.shares, r.target_shares))
            ],
        )
        p.ticks_at(x, r.target_shares, half=0.42)
        panels[r.algorithm] = p.render()
    return _figure(
        "shares",
        "Shares against target",
        "Each backend's share of the connections (bars) and its weight-proportional target through the "
        "pool events (black ticks); one panel per algorithm, same scale in all.",
        _by_family(families, panels),
    )


def _active_figure(c: Comparison, families: dict[str, list[str]]) -> str:
    n = c.n_backends
    colors = palette(n)
    panels = {}
    # the same time axis in every panel, up to a quarter past the expected last arrival: queues that drain
    # for much longer leave the panel at its right edge instead of squeezing everyone else's run
    t_end = max((float(r.sample_times[-1]) for r in c.rows if len(r.sample_times)), default=1.0)
    t_end = min(t_end, 1.25 * c.scenario.span) if c.scenario.span > 0 else t_end
    for r in c.rows:
        samples = np.asarray(r.samples_active, dtype=np.float64)
        top = float(samples.max()) if samples.size else 1.0
        p = Panel(
            title=r.algorithm,
            x=(0, t_end),
            y=(0, max(top, 1.0) * 1.05),
            xlabel="time (s)",
            width=260,
            height=160,
        )
        for t, action, b in c.event_times:
            p.vline(t, tip=f"{action}" + (f" b{b}" if b is not None else "") + f" at {t:,.1f} s")
        for b in range(samples.shape[1] if samples.ndim == 2 else 0):
            p.line(r.sample_times, samples[:, b], colors[b], series=f"b{b}", width=1.1)
        panels[r.algorithm] = p.render()
    return _figure(
        "active",
        "Open connections over time",
        "Open connections (queued + in service) per backend, sampled over the run; dashed lines mark the "
        "pool events. Each panel has its own vertical scale; the time axis ends a quarter past the "
        "expected last arrival. Point at a backend in the legend to highlight it everywhere.",
        _by_family(families, panels),
        legend=[(f"b{b}", colors[b]) for b in range(n)],
    )


def _latency_figure(c: Comparison, families: dict[str, list[str]]) -> str:
    rows = {r.algorithm: r for r in c.rows}
    qs = [r.latency_quantiles for r in c.rows if r.latency_quantiles is not None]
    positive = np.concatenate([q[q > 0] for q in qs]) if qs else np.zeros(0)
    lo, hi = (float(positive.min()), float(positive.max())) if positive.size else (1e-3, 1.0)
    panels = []
    for fam, algs in families.items():
        colors = palette(len(algs))
        p = Panel(
            title=fam,
            x=(lo, hi),
            y=(0, 1),
            xlog=True,
            xunit="s",
            yunit="%",
            xlabel="time in the system (log scale)",
            width=380,
            height=250,
        )
        entries = []
        for a, color in zip(algs, colors):
            q = rows[a].latency_quantiles
            if q is None:
                continue
            p.line(np.maximum(q, lo), CDF_PROBABILITIES, color, series=a, width=1.5)
            entries.append((a, color))
        panels.append(p.render() + _legend(entries))
    return _figure(
        "latency",
        "Latency CDF",
        "Fraction of the scheduled connections whose time in the system (queue + service) is at most x; "
        "one panel per scheduler family, log time axis shared by all panels.",
        _panels(panels),
    )


def _disruption_figure(c: Comparison, records: list[dict[str, Any]]) -> str:
    algs = [r.algorithm for r in c.rows]
    fams = [rec["family"] for rec in records]
    fam_colors = dict(zip(dict.fromkeys(fams), palette(len(set(fams)))))
    shade = [i for i, f in enumerate(fams) if list(dict.fromkeys(fams)).index(f) % 2 == 1]
    panels = []
    for e, (t, action, b) in enumerate(c.event_times):
        moved = [r.disruption[e].moved if e < len(r.disruption) else math.nan for r in c.rows]
        must = [r.disruption[e].must_move if e < len(r.disruption) else math.nan for r in c.rows]
        top = min(1.0, max(padded(moved + must, include_zero=True)[1], 0.02))
        title = f"{action}" + (f" b{b}" if b is not None else "") + f" at {t:,.0f} s"
        p = Panel(
            title=title,
            ycats=algs,
            x=(0, top),
            xunit="%",
            xlabel="returning clients moved",
            width=max(300, 150 + 6 * max(len(a) for a in algs)),
            height=40 + 13 * len(algs),
        )
        p.band_rows(shade)
        p.bars(
            range(len(algs)),
            moved,
            [fam_colors[f] for f in fams],
            horizontal=True,
            width=0.7,
            tips=[
                f"{a}: moved {format_value(m, 'share')}, had to move {format_value(n, 'share')}"
                for a, m, n in zip(algs, moved, must)
            ],
        )
        p.ticks_at(range(len(algs)), must, half=0.45, horizontal=True)
        panels.append(p.render())
    return _figure(
        "disruption",
        "Disruption at pool events",
        "Per pool event, the share of returning clients each algorithm sent to another backend (bars, "
        "coloured by family) and the share whose backend became unavailable, which even a perfectly "
        "sticky policy must move (black ticks).",
        _panels(panels),
        legend=list(fam_colors.items()),
    )


# -- sweeps ----------------------------------------------------------------------------------
#: Metrics a sweep report plots by default (those with values).
SWEEP_METRICS = (
    "max_deviation",
    "jain",
    "load_max_over_mean",
    "sticky",
    "moved",
    "latency_p99",
    "dropped_share",
)


def _sweep_metrics(res: "SweepResult") -> list[str]:
    present = list(dict.fromkeys(res.summary["metric"]))
    chosen = list(res.grid.metrics) or [m for m in SWEEP_METRICS if m in present]
    if not res.grid.metrics and "dropped_share" in chosen:
        values = [v for m, v in zip(res.summary["metric"], res.summary["mean"]) if m == "dropped_share"]
        if not any(v > 0 for v in values if not math.isnan(v)):
            chosen.remove("dropped_share")
    return [m for m in chosen if m in present]


def _x_axis(res: "SweepResult") -> int | None:
    axes = res.grid.axes
    if not axes:
        return None
    if res.grid.x is not None:
        return [a.path for a in axes].index(res.grid.x)
    return next(
        (i for i, a in enumerate(axes) if a.numeric and len(a.values) > 1),
        next((i for i, a in enumerate(axes) if len(a.values) > 1), 0),
    )


def sweep_panels(res: "SweepResult", metric: str) -> list[tuple[Panel, list[tuple[str, str]]]]:
    """Draw ``metric`` against the x axis: a panel per combination of the other axes' values.

    With more than ten algorithms there is a panel per family as well. Each
    panel comes with its legend entries ``(label, colour)``.
    """
    xi = _x_axis(res)
    if xi is None:
        return []
    g, s = res.grid, res.summary
    axis = g.axes[xi]
    m = METRIC[metric]
    cells = g.cells
    algorithms = list(g.algorithms)
    fam_of = dict(zip(s["algorithm"], s["family"]))
    groups = (
        by_groups(algorithms, lambda a: fam_of.get(a, "other")) if len(algorithms) > 10 else {"": algorithms}
    )
    colors = {a: col for algs in groups.values() for a, col in zip(algs, palette(len(algs)))}
    # (facet, algorithm) -> points by x position
    points: dict[tuple[tuple[int, ...], str], dict[int, tuple[float, float, float]]] = {}
    for i, name in enumerate(s["metric"]):
        if name != metric:
            continue
        cell = cells[s["cell"][i]]
        facet = tuple(p for j, p in enumerate(cell.positions) if j != xi)
        mean, lo, hi = s["mean"][i], s["ci_low"][i], s["ci_high"][i]
        points.setdefault((facet, s["algorithm"][i]), {})[cell.positions[xi]] = (mean, lo, hi)
    facets = list(dict.fromkeys(f for f, _ in points))
    xs_all = list(range(len(axis.values)))
    xpos = [float(v) for v in axis.values] if axis.numeric else xs_all
    out = []
    for facet in facets:
        others = [a for j, a in enumerate(g.axes) if j != xi]
        facet_title = ", ".join(f"{a.path}={a.labels[p]}" for a, p in zip(others, facet))
        for fam, algs in groups.items():
            title = " · ".join(t for t in (facet_title, fam) if t) or m.header
            # each panel its own vertical scale: one pool size's 400% must not flatten another's 5%
            shown = [v for a in algs for pt in points.get((facet, a), {}).values() for v in pt]
            ylo, yhi = padded(shown, include_zero=m.unit == "share" and metric != "sticky")
            kw: dict[str, Any] = (
                {"x": padded(xpos, pad=0.04)} if axis.numeric else {"xcats": list(axis.labels)}
            )
            p = Panel(
                title=title,
                y=(ylo, yhi),
                yunit=_yunit(m),
                xlabel=axis.path,
                ylabel=m.header,
                width=360,
                height=240,
                **kw,
            )
            entries = []
            for a in algs:
                pts = points.get((facet, a))
                if not pts:
                    continue
                order = sorted(pts)
                x = [xpos[k] for k in order]
                mean = [pts[k][0] for k in order]
                p.band(x, [pts[k][1] for k in order], [pts[k][2] for k in order], colors[a], series=a)
                p.line(x, mean, colors[a], series=a, width=1.6)
                p.markers(
                    x,
                    mean,
                    colors[a],
                    series=a,
                    tips=[
                        f"{a}, {axis.path}={axis.labels[k]}: {m.format(pts[k][0])} "
                        f"[{m.format(pts[k][1])}, {m.format(pts[k][2])}]"
                        for k in order
                    ],
                )
                entries.append((a, colors[a]))
            out.append((p, entries))
    return out


def sweep_svgs(res: "SweepResult") -> dict[str, str]:
    """One standalone SVG per plotted metric (its panels in a grid, with the legend)."""
    out = {}
    for metric in _sweep_metrics(res):
        panels = sweep_panels(res, metric)
        if not panels:
            continue
        legend = list(dict.fromkeys(e for _, entries in panels for e in entries))
        out[metric] = compose(
            [p for p, _ in panels],
            columns=min(3, len(panels)),
            title=f"{res.grid.name}: {METRIC[metric].header} against {res.grid.axes[_x_axis(res) or 0].path}",
            legend=legend,
        )
    return out


def sweep_html(res: "SweepResult") -> str:
    """Render the HTML report of a sweep: what ran, a plot per metric with confidence bands, the summary."""
    g = res.grid
    parts = [f"<h1>lbalgo sweep: {escape(g.name)}</h1>", f"<p>{escape(g.describe())}.</p>"]
    first = g.cells[0].scenario
    base = re.sub(r", seed \d+$", "", first.describe())
    parts.append(
        f"<p>Cell 0: weights {escape(str(list(first.weights)))}; {escape(base)}. Each run's seed derives "
        f"from the sweep seed {g.seed}, the cell's values and the replicate.</p>"
    )
    for a in g.axes:
        parts.append(f'<p class="meta">Axis <b>{escape(a.path)}</b>: {escape(", ".join(a.labels))}</p>')
    parts.append(
        f'<p class="meta">Algorithms: {escape(", ".join(g.algorithms))}. Means over replicates with '
        f"{100 * g.confidence:g}% Student-t confidence intervals.</p>"
    )
    s = res.stats
    if s is not None and s.runs:
        line = f"{s.runs} runs: {s.ran} run now" + (
            f" in {s.wall_seconds:.1f} s on {s.workers} workers" if s.ran else ""
        )
        line += f", {s.reused} reused from the journal" if s.reused else ""
        parts.append(f'<p class="meta">{escape(line)}.</p>')
    if res.versions:
        versions = ", ".join(f"{k} {v}" for k, v in sorted(res.versions.items()))
        parts.append(f'<p class="meta">Run with {escape(versions)}.</p>')
    if res.missing:
        parts.append(
            f'<p class="note">Incomplete: {len(res.missing)} runs did not finish (first: '
            f"{escape(res.missing[0])}). Run the sweep again with the same output directory to finish "
            "them.</p>"
        )
    metrics = _sweep_metrics(res) if len(res) else []
    toc = [(f"m-{m}", METRIC[m].header) for m in metrics] + [
        ("summary", "Summary table"),
        ("columns", "Columns"),
    ]
    parts.append("<nav>" + "".join(f'<a href="#{i}">{escape(t)}</a>' for i, t in toc) + "</nav>")
    xi = _x_axis(res)
    for metric in metrics:
        panels = sweep_panels(res, metric)
        m = METRIC[metric]
        if not panels:
            continue
        per_panel = len(g.algorithms) > 10
        legend = [] if per_panel else list(dict.fromkeys(e for _, entries in panels for e in entries))
        body = _panels([p.render() + (_legend(entries) if per_panel else "") for p, entries in panels])
        parts.append(
            _figure(
                f"m-{metric}",
                f"{m.header} against {g.axes[xi or 0].path}",
                f"{escape(m.description)}. Lines: the mean over replicates; bands: the "
                f"{100 * g.confidence:g}% confidence interval of the mean.",
                body,
                legend,
            )
        )
    if g.axes and not metrics:
        parts.append("<p>No metric has values to plot.</p>")
    if not g.axes:
        parts.append(
            "<p>The grid has no axes: the table below gives each algorithm's mean over the replicates.</p>"
        )
    parts.append(
        '<h2 id="summary">Summary table</h2><p class="cap">Mean ± half-width of the confidence interval '
        "over replicates, per cell and algorithm. Click a heading to sort.</p>" + _sweep_table(res)
    )
    shown = [METRIC[m] for m in dict.fromkeys(res.summary["metric"])]
    parts.append('<h2 id="columns">Columns</h2>' + _explanations(shown))
    parts.append(
        "<footer>Written by lbalgo. This file is self-contained: it loads nothing from the network.</footer>"
    )
    return page(f"lbalgo sweep: {g.name}", "\n".join(parts))


def _sweep_table(res: "SweepResult") -> str:
    s = res.summary
    metrics = list(dict.fromkeys(s["metric"]))
    axes = res.grid.axes
    rows: dict[tuple[int, str], dict[str, tuple[float, float, float]]] = {}
    for i in range(len(s["metric"])):
        rows.setdefault((s["cell"][i], s["algorithm"][i]), {})[s["metric"][i]] = (
            s["mean"][i],
            s["ci_low"][i],
            s["ci_high"][i],
        )
    head = (
        "".join(f'<th class="txt">{escape(a.path)}</th>' for a in axes)
        + '<th class="txt">algorithm</th>'
        + "".join(
            f'<th title="{escape(METRIC[m].description)}">{escape(METRIC[m].header)}</th>' for m in metrics
        )
    )
    body = []
    for (cell_index, algorithm), values in rows.items():
        cell = res.grid.cells[cell_index]
        cells = [
            f'<td class="txt" data-v="{_axis_sort(a, p)}">{escape(a.labels[p])}</td>'
            for a, p in zip(axes, cell.positions)
        ]
        cells.append(f'<td class="txt">{escape(algorithm)}</td>')
        for m in metrics:
            mean, lo, hi = values.get(m, (math.nan, math.nan, math.nan))
            text = METRIC[m].format(mean)
            if not math.isnan(lo) and not math.isnan(mean):
                half = (hi - lo) / 2
                fixed = METRIC[m].unit == "number" and "e" not in text
                text += " ± " + (f"{half:.4f}" if fixed else METRIC[m].format(half))
            cells.append(f'<td data-v="{_num_attr(mean)}">{escape(text)}</td>')
        body.append(f'<tr data-algorithm="{escape(algorithm)}">{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table class="sortable" id="summary-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _axis_sort(axis: Any, position: int) -> str:
    """Sort key of an axis cell: the value for numeric axes, else its position in the axis."""
    return repr(float(axis.values[position])) if axis.numeric else repr(float(position))


__all__ = ["comparison_html", "sweep_html", "sweep_svgs", "sweep_panels", "page", "CSP"]

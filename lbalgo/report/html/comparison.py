"""The HTML report of one comparison (:func:`comparison_html`): tables, column notes and SVG plots."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .._format import events_line, versions_line
from ..svg import Panel, by_groups, padded, palette
from ..tidy import METRIC, Metric, applicable, format_value, row_record
from .page import column_notes, figure, legend_list, page, panel_grid, sort_key

if TYPE_CHECKING:  # pragma: no cover
    from ..results import Comparison

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
        "value of their column. Definitions: docs/cli.md.</p>" + column_notes(metrics)
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
            cells.append(f'<td{mark} data-v="{sort_key(rec[m.name])}">{escape(text)}</td>')
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
        f"<h4>{escape(fam)}</h4>" + panel_grid([panels[a] for a in algs]) for fam, algs in families.items()
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
    return figure(
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
    return figure(
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
            p.line(np.maximum(q, lo), c.cdf_probabilities, color, series=a, width=1.5)
            entries.append((a, color))
        panels.append(p.render() + legend_list(entries))
    return figure(
        "latency",
        "Latency CDF",
        "Fraction of the scheduled connections whose time in the system (queue + service) is at most x; "
        "one panel per scheduler family, log time axis shared by all panels.",
        panel_grid(panels),
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
    return figure(
        "disruption",
        "Disruption at pool events",
        "Per pool event, the share of returning clients each algorithm sent to another backend (bars, "
        "coloured by family) and the share whose backend became unavailable, which even a perfectly "
        "sticky policy must move (black ticks).",
        panel_grid(panels),
        legend=list(fam_colors.items()),
    )


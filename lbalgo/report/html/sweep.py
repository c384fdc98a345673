"""The HTML report of a sweep (:func:`sweep_html`) and its plots as SVG files (:func:`sweep_svgs`)."""

from __future__ import annotations

import math
import re
from html import escape
from typing import TYPE_CHECKING, Any

from ..svg import Panel, by_groups, compose, padded, palette
from ..tidy import METRIC
from .page import column_notes, figure, legend_list, page, panel_grid, sort_key, y_unit

if TYPE_CHECKING:  # pragma: no cover
    from ...sweeps.results import SweepResult


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
                yunit=y_unit(m),
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
        body = panel_grid([p.render() + (legend_list(entries) if per_panel else "") for p, entries in panels])
        parts.append(
            figure(
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
    parts.append('<h2 id="columns">Columns</h2>' + column_notes(shown))
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
            cells.append(f'<td data-v="{sort_key(mean)}">{escape(text)}</td>')
        body.append(f'<tr data-algorithm="{escape(algorithm)}">{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table class="sortable" id="summary-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _axis_sort(axis: Any, position: int) -> str:
    """Sort key of an axis cell: the value for numeric axes, else its position in the axis."""
    return repr(float(axis.values[position])) if axis.numeric else repr(float(position))


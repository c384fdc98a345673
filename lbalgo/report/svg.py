"""Small SVG charts for the HTML reports: axes, lines, confidence bands, bars, without any plotting library.

A :class:`Panel` is one chart with linear or log axes (or categorical ones)
to which series are added; :meth:`Panel.render` returns an ``<svg>`` element
that is valid on its own (it carries its font) and inside an HTML page.
:func:`compose` lays several panels and a legend out in one standalone SVG
document (the sweep's ``plots/*.svg`` files).

This module holds that layout (:func:`compose`, :func:`legend_svg`, and
:func:`by_groups` for grouping series) and re-exports the rest, which lives
beside it: the panel in :mod:`lbalgo.report.svg_panel`, the axis arithmetic
(domains, scales, ticks) in :mod:`lbalgo.report.svg_axes`, the colours and
font in :mod:`lbalgo.report.svg_style`.
"""

from __future__ import annotations

from html import escape
from typing import Callable, Sequence

from .svg_axes import Scale, format_tick, log_ticks, nice_ticks, padded
from .svg_panel import Panel
from .svg_style import FONT, PALETTE_10, PALETTE_20, palette


def legend_svg(
    entries: Sequence[tuple[str, str]], width: int, *, columns: int | None = None
) -> tuple[str, int]:
    """Lay out a legend of ``(label, colour)`` swatches in rows; return the SVG fragment and its height."""
    if not entries:
        return "", 0
    longest = max(len(label) for label, _ in entries)
    cell = min(max(60, 12 + 6.2 * longest), width)
    cols = columns or max(1, int(width // cell))
    out = []
    for i, (label, color) in enumerate(entries):
        x, y = (i % cols) * cell, (i // cols) * 16
        out.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.1f}" y="{y + 12}">{escape(label)}</text>'
        )
    return "".join(out), 16 * (-(-len(entries) // cols)) + 4


def compose(
    panels: Sequence[Panel], *, columns: int, title: str = "", legend: Sequence[tuple[str, str]] = ()
) -> str:
    """One standalone SVG document: a title, a legend, then the panels in a grid of ``columns``."""
    if not panels:
        raise ValueError("nothing to compose")
    cw, ch = max(p.width for p in panels), max(p.height for p in panels)
    width = cw * min(columns, len(panels))
    y = 22 if title else 4
    parts = [f'<text x="4" y="15" font-size="13" font-weight="600">{escape(title)}</text>'] if title else []
    fragment, height = legend_svg(legend, width - 8)
    if fragment:
        parts.append(f'<g transform="translate(4 {y})">{fragment}</g>')
        y += height
    for i, p in enumerate(panels):
        row, col = divmod(i, columns)
        parts.append(f'<g transform="translate({col * cw} {y + row * ch})">{p.render()}</g>')
    total = y + ch * (-(-len(panels) // columns))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {total}" width="{width}" height="{total}" {FONT} fill="#111827">'
        f'<rect width="100%" height="100%" fill="#fff"/>{"".join(parts)}</svg>\n'
    )


def by_groups(items: Sequence[str], key: Callable[[str], str]) -> dict[str, list[str]]:
    """Items grouped by ``key``, groups in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


__all__ = [
    "Panel",
    "Scale",
    "compose",
    "legend_svg",
    "palette",
    "padded",
    "nice_ticks",
    "log_ticks",
    "format_tick",
    "by_groups",
    "PALETTE_10",
    "PALETTE_20",
]
